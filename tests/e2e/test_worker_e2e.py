"""The worker against localstripe: expiry cancels the PaymentIntent and frees the stock;
reconciliation finds the payment whose webhook never came."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shop.db import utcnow

pytestmark = pytest.mark.slow


def test_expiry_releases_the_stock_and_cancels_the_payment_intent(live_shop):
    variant = live_shop.variant(stock=3)
    placed = live_shop.checkout(variant["sku"], 3).json()
    assert live_shop.stock(variant["id"]) == (3, 3, 3)
    cart = live_shop.http.post(f"{live_shop.url}/api/v1/carts").json()["id"]
    sold_out = live_shop.http.post(f"{live_shop.url}/api/v1/carts/{cart}/items",
                                   json={"sku": variant["sku"], "quantity": 1})
    assert sold_out.status_code == 409, sold_out.text
    assert live_shop.run_job("expire_reservations", utcnow() + timedelta(minutes=16)) == 1
    order = live_shop.order(placed)
    assert (order["status"], order["cancel_reason"]) == ("cancelled", "reservation_expired")
    assert live_shop.stock(variant["id"]) == (3, 0, 3)
    intent = live_shop.stripe.client.v1.payment_intents.retrieve(
        placed["payment"]["payment_intent_id"])
    assert intent.status == "canceled"
    assert live_shop.checkout(variant["sku"], 3).status_code == 201  # on sale again
    # payment_intent.canceled reaches the webhook later and changes nothing more
    assert live_shop.wait_for_order(
        placed, lambda o: False, timeout=1.5)["cancel_reason"] == "reservation_expired"


def test_reconciliation_recovers_a_paid_order_whose_webhook_never_came(live_shop, smtp_server):
    live_shop.stripe.webhooks_off()
    variant = live_shop.variant(price=990, stock=2)
    placed = live_shop.checkout(variant["sku"]).json()
    live_shop.stripe.pay(placed["payment"]["client_secret"])
    assert live_shop.run_job("reconcile_payments") == 0  # too recent to worry about
    assert live_shop.order(placed)["status"] == "pending_payment"
    assert live_shop.run_job("reconcile_payments", utcnow() + timedelta(minutes=3)) == 1
    assert live_shop.order(placed)["status"] == "paid"
    assert live_shop.stock(variant["id"]) == (1, 0, 1)
    live_shop.run_job("send_outbox")
    assert len(smtp_server.wait_for(1)) == 1
