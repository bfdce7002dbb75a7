"""End to end: the app on a real socket, localstripe delivering signed webhooks to it, the
worker's jobs run by hand, and email received by an aiosmtpd server. Data really commits
(the `committed` fixture wipes it afterwards)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import pytest
import requests
from sqlalchemy import func, select

from shop import create_app
from shop.extensions import db
from shop.inventory.models import StockLevel, StockMovement
from shop.orders.models import Order
from shop.worker import run_job
from tests.carts.factories import make_variant
from tests.fixtures.live import serve_app
from tests.fixtures.stripe import LocalStripeFixture, settings_for, sign


@dataclass
class LiveShop:
    url: str
    app: object  # a second app on the same database: the worker's, and for DB checks
    stripe: LocalStripeFixture
    webhook_secret: str
    http: requests.Session

    def variant(self, *, price: int = 1500, stock: int = 5) -> dict:
        with self.app.app_context():
            variant = make_variant(db.session, price=price, stock=stock)
            db.session.commit()
            found = {"id": variant.id, "sku": variant.sku}
            db.session.remove()
        return found

    def checkout(self, sku: str, quantity: int = 1, **body) -> requests.Response:
        cart = self.http.post(f"{self.url}/api/v1/carts", timeout=10).json()["id"]
        added = self.http.post(f"{self.url}/api/v1/carts/{cart}/items", timeout=10,
                               json={"sku": sku, "quantity": quantity})
        assert added.status_code == 201, added.text
        body = {"email": "buyer@example.com", "shipping_method": "click-and-collect", **body}
        return self.http.post(f"{self.url}/api/v1/carts/{cart}/checkout", json=body, timeout=30)

    def order(self, placed: dict) -> dict:
        response = self.http.get(f"{self.url}/api/v1/orders/{placed['order']['id']}",
                                 params={"access_token": placed["access_token"]}, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()

    def wait_for_order(self, placed: dict, predicate: Callable[[dict], bool],
                       timeout: float = 10) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            order = self.order(placed)
            if predicate(order) or time.monotonic() > deadline:
                return order
            time.sleep(0.1)

    def post_event(self, event: dict | bytes, *, secret: str | None = None) -> requests.Response:
        import json

        body = event if isinstance(event, bytes) else json.dumps(event).encode()
        return self.http.post(
            f"{self.url}/api/v1/stripe/webhook", data=body, timeout=10,
            headers={"Content-Type": "application/json",
                     "Stripe-Signature": sign(body, secret or self.webhook_secret)})

    def run_job(self, name: str, now=None) -> int:
        return run_job(self.app, name, now)

    def query(self, fn: Callable):
        with self.app.app_context():
            try:
                return fn(db.session)
            finally:
                db.session.remove()

    def stock(self, variant_id: int) -> tuple[int, int, int]:
        """(on_hand, reserved, sum of the ledger)."""
        def read(session):
            level = session.get(StockLevel, variant_id)
            ledger = session.scalar(select(func.coalesce(func.sum(StockMovement.quantity), 0))
                                    .where(StockMovement.variant_id == variant_id))
            return level.on_hand, level.reserved, ledger
        return self.query(read)

    def order_row(self, order_id: int) -> Order:
        def read(session):
            order = session.get(Order, order_id)
            session.expunge(order)
            return order
        return self.query(read)


def live_config(app_config: dict, stripe_settings: dict, **extra) -> dict:
    return {**app_config, **stripe_settings, "STRIPE_MAX_RETRIES": 0, **extra}


@pytest.fixture
def live_shop(committed, app_config, localstripe, smtp_server):
    """The shop served on a free port, with localstripe's webhooks pointed at it."""
    secret = "whsec_e2e_" + str(time.time_ns())
    config = live_config(app_config, settings_for(localstripe, secret), SMTP_URL=smtp_server.url)
    localstripe.reset()  # order ids start again after a wipe: so must idempotency keys
    worker_app = create_app(config)
    with serve_app(config) as url, requests.Session() as http:
        localstripe.register_webhook(f"{url}/api/v1/stripe/webhook", secret)
        try:
            yield LiveShop(url, worker_app, localstripe, secret, http)
        finally:
            localstripe.webhooks_off()
            with worker_app.app_context():
                db.engine.dispose()
