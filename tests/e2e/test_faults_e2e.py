"""Stripe unreachable in the middle of a checkout: a clear 503, and nothing left held."""

from __future__ import annotations

import pytest
import requests
from sqlalchemy import select

from shop import create_app
from shop.extensions import db
from shop.orders.models import Order
from tests.carts.factories import make_variant
from tests.e2e.conftest import live_config
from tests.fixtures.live import serve_app
from tests.fixtures.stripe import settings_for

pytestmark = pytest.mark.slow


def test_localstripe_stopped_mid_checkout_is_a_503_and_releases_the_reservation(
    committed, app_config, start_localstripe
):
    fake = start_localstripe()
    config = live_config(app_config, settings_for(fake, "whsec_fault"))
    app = create_app(config)
    with app.app_context():
        variant = make_variant(db.session, stock=2)
        db.session.commit()
        sku, variant_id = variant.sku, variant.id
    with serve_app(config) as url, requests.Session() as http:
        cart = http.post(f"{url}/api/v1/carts").json()["id"]
        http.post(f"{url}/api/v1/carts/{cart}/items", json={"sku": sku, "quantity": 2})
        fake.running.stop()  # the customer is on the checkout screen; Stripe goes away
        response = http.post(f"{url}/api/v1/carts/{cart}/checkout", json={
            "email": "buyer@example.com", "shipping_method": "click-and-collect"})
        assert response.status_code == 503
        assert response.headers["Content-Type"] == "application/problem+json"
        assert response.json()["code"] == "payment_provider_unavailable"
        assert response.headers["Retry-After"]
    with app.app_context():
        orders = db.session.scalars(select(Order)).all()
        assert [(o.status, o.cancel_reason) for o in orders] == \
            [("cancelled", "payment_provider_unavailable")]
        from shop.inventory.models import StockLevel

        level = db.session.get(StockLevel, variant_id)
        assert (level.on_hand, level.reserved) == (2, 0)
        db.session.remove()
        db.engine.dispose()
