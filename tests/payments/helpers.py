"""Shared steps for the payments tests: an order with a live PaymentIntent, Stripe's events
for it, and posting them to the webhook signed as Stripe signs them."""

from __future__ import annotations

import json
import time

from sqlalchemy import func, select

from shop.inventory.models import StockMovement
from shop.notifications.models import OutboxEmail
from shop.orders.models import Order
from shop.payments.models import Payment
from tests.fixtures.stripe import event_body, sign

WEBHOOK = "/api/v1/stripe/webhook"


def cart_with(client, variant, quantity=1, headers=None) -> str:
    cart_id = client.post("/api/v1/carts", headers=headers or {}).json["id"]
    added = client.post(f"/api/v1/carts/{cart_id}/items", headers=headers or {},
                        json={"sku": variant.sku, "quantity": quantity})
    assert added.status_code == 201, added.json
    return cart_id


def checkout(client, cart_id, headers=None, **body):
    body.setdefault("shipping_method", "click-and-collect")
    if not headers:
        body.setdefault("email", "guest@example.com")
    response = client.post(f"/api/v1/carts/{cart_id}/checkout", json=body, headers=headers or {})
    assert response.status_code == 201, response.json
    return response.json


def order_with_intent(client, variant, quantity: int = 1, headers=None, **body) -> dict:
    """Checkout over HTTP: {"order": ..., "payment": ..., "access_token": ...}."""
    return checkout(client, cart_with(client, variant, quantity, headers), headers, **body)


def stripe_event(localstripe, type_: str, object_id: str) -> dict:
    """The (last) event of this type localstripe recorded for this object."""
    matching = [event for event in localstripe.events(type_)
                if event["data"]["object"]["id"] == object_id]
    assert matching, f"localstripe recorded no {type_} for {object_id}"
    return matching[-1]


def post_event(client, event: dict | bytes, secret: str, *, signature: str | None = None):
    body = event if isinstance(event, bytes) else json.dumps(event).encode()
    return client.post(WEBHOOK, data=body, content_type="application/json",
                       headers={"Stripe-Signature": signature or sign(body, secret)})


def post_new_event(client, type_: str, obj: dict, secret: str):
    return post_event(client, event_body(type_, obj), secret)


def bank_sends_refund_back(client, localstripe, stripe_refund_id: str, secret: str) -> None:
    """Wait for localstripe's refund.failed of a refund to the refund-fails test card (it
    fails a moment after it is made) and deliver it to the app."""
    deadline = time.monotonic() + 5
    while not [event for event in localstripe.events("refund.failed")
               if event["data"]["object"]["id"] == stripe_refund_id]:
        assert time.monotonic() < deadline, "localstripe sent no refund.failed"
        time.sleep(0.1)
    response = post_event(client, stripe_event(localstripe, "refund.failed", stripe_refund_id),
                          secret)
    assert response.status_code == 200, response.get_data(as_text=True)


def reload_order(session, order_id: int) -> Order:
    order = session.get(Order, order_id)
    session.refresh(order)
    return order


def payment_of(session, order_id: int) -> Payment:
    payment = session.scalar(select(Payment).where(Payment.order_id == order_id)
                             .order_by(Payment.attempt.desc()))
    session.refresh(payment)
    return payment


def sales_of(session, order_id: int) -> int:
    return -session.scalar(
        select(func.coalesce(func.sum(StockMovement.quantity), 0))
        .where(StockMovement.order_id == order_id, StockMovement.reason == "sale"))


def confirmation_emails(session, order_id: int) -> int:
    return session.scalar(select(func.count()).select_from(OutboxEmail)
                          .where(OutboxEmail.dedupe_key == f"order-confirmation:{order_id}"))


def customer_email(session, dedupe_key: str) -> OutboxEmail | None:
    """The email queued for an order's customer under this key (order-refund:{id}...)."""
    return session.scalar(select(OutboxEmail).where(OutboxEmail.dedupe_key == dedupe_key))


def event_types(order: Order) -> list[str]:
    return [event.type for event in order.events]
