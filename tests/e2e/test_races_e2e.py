"""Races over real HTTP on PostgreSQL: the last units sell once, and a payment confirmed by
the webhook and by the app's sync call at the same moment is applied once."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from shop.notifications.models import OutboxEmail
from shop.orders.models import Order, OrderEvent, StockReservation

pytestmark = [pytest.mark.slow, pytest.mark.postgresql_only]
BUYERS = 24
STOCK = 5


def test_concurrent_checkouts_never_take_more_than_exists(live_shop):
    variant = live_shop.variant(stock=STOCK)
    live_shop.stripe.webhooks_off()
    carts = []
    for _ in range(BUYERS):
        cart = live_shop.http.post(f"{live_shop.url}/api/v1/carts").json()["id"]
        added = live_shop.http.post(f"{live_shop.url}/api/v1/carts/{cart}/items",
                                    json={"sku": variant["sku"], "quantity": 1})
        assert added.status_code == 201, added.text
        carts.append(cart)
    start = threading.Barrier(BUYERS)

    def buy(cart: str):
        import requests

        start.wait()
        return requests.post(f"{live_shop.url}/api/v1/carts/{cart}/checkout", timeout=60, json={
            "email": "racer@example.com", "shipping_method": "click-and-collect"})

    with ThreadPoolExecutor(max_workers=BUYERS) as pool:
        responses = list(pool.map(buy, carts))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] * STOCK + [409] * (BUYERS - STOCK), [r.text for r in responses]
    refused = {r.json()["code"] for r in responses if r.status_code == 409}
    # refused while re-pricing the cart, or by the reservation's conditional update
    assert refused <= {"insufficient_stock", "cart_not_purchasable"}
    assert all(r.json()["payment"]["client_secret"] for r in responses if r.status_code == 201)
    on_hand, reserved, ledger = live_shop.stock(variant["id"])
    assert (on_hand, reserved, ledger) == (STOCK, STOCK, STOCK)
    held = live_shop.query(lambda s: s.scalar(
        select(func.sum(StockReservation.quantity))
        .where(StockReservation.variant_id == variant["id"], StockReservation.status == "active")))
    assert held == STOCK
    pending = live_shop.query(lambda s: s.scalar(
        select(func.count()).select_from(Order).where(Order.status == "pending_payment")))
    assert pending == STOCK


def test_webhook_and_sync_racing_apply_the_payment_once(live_shop):
    variant = live_shop.variant(stock=3)
    placed = live_shop.checkout(variant["sku"], 2).json()
    live_shop.stripe.webhooks_off()  # the race is ours to start
    intent = live_shop.stripe.pay(placed["payment"]["client_secret"])
    [event] = [e for e in live_shop.stripe.events("payment_intent.succeeded")
               if e["data"]["object"]["id"] == intent["id"]]
    order_id, token = placed["order"]["id"], placed["access_token"]
    start = threading.Barrier(8)

    def webhook():
        start.wait()
        return live_shop.post_event(event)

    def sync():
        import requests

        start.wait()
        return requests.post(f"{live_shop.url}/api/v1/orders/{order_id}/sync",
                             params={"access_token": token}, timeout=30)

    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = [pool.submit(webhook if i % 2 else sync) for i in range(8)]
        responses = [future.result() for future in futures]
    assert [r.status_code for r in responses] == [200] * 8, [r.text for r in responses]
    assert sum(1 for r in responses if r.json().get("duplicate") is False) == 1
    assert live_shop.order(placed)["status"] == "paid"

    def counts(session):
        return (
            session.scalar(select(func.count()).select_from(OrderEvent).where(
                OrderEvent.order_id == order_id, OrderEvent.type == "paid")),
            session.scalar(select(func.count()).select_from(OutboxEmail).where(
                OutboxEmail.dedupe_key == f"order-confirmation:{order_id}")),
        )

    assert live_shop.query(counts) == (1, 1)
    assert live_shop.stock(variant["id"]) == (1, 0, 1)
