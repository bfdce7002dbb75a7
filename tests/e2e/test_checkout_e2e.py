"""Buying for real against localstripe: its signed webhooks reach the served app."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from shop.notifications.models import OutboxEmail
from shop.payments.models import Payment, Refund, StripeEvent
from tests.fixtures.stripe import CARD_DECLINED, sign

pytestmark = pytest.mark.slow


def paid(order: dict) -> bool:
    return order["status"] == "paid"


def test_paying_with_a_test_card_sells_the_stock_and_sends_the_confirmation(
    live_shop, smtp_server
):
    variant = live_shop.variant(price=1850, stock=5)
    response = live_shop.checkout(variant["sku"], 2)
    assert response.status_code == 201, response.text
    placed = response.json()
    assert live_shop.stock(variant["id"]) == (5, 2, 5)
    intent = live_shop.stripe.pay(placed["payment"]["client_secret"])
    assert intent["status"] == "succeeded" and intent["amount_received"] == 3700
    order = live_shop.wait_for_order(placed, paid)
    assert order["status"] == "paid", "localstripe's payment_intent.succeeded never arrived"
    assert live_shop.stock(variant["id"]) == (3, 0, 3)
    assert live_shop.run_job("send_outbox") == 1
    [email] = smtp_server.wait_for(1)
    assert email["To"] == "buyer@example.com"
    assert order["number"] in email["Subject"]


def test_a_declined_card_then_a_good_one_pays_the_same_order(live_shop):
    variant = live_shop.variant(stock=3)
    placed = live_shop.checkout(variant["sku"]).json()
    secret = placed["payment"]["client_secret"]
    declined = live_shop.stripe.pay(secret, card=CARD_DECLINED)
    assert declined["status"] == "requires_payment_method"
    order = live_shop.wait_for_order(
        placed, lambda o: "payment_failed" in [e["type"] for e in o["events"]])
    assert order["status"] == "pending_payment"
    retried = live_shop.stripe.pay(secret)
    assert retried["id"] == placed["payment"]["payment_intent_id"]
    assert live_shop.wait_for_order(placed, paid)["status"] == "paid"
    assert live_shop.stock(variant["id"]) == (2, 0, 2)


def test_a_bad_signature_is_a_400_and_changes_nothing(live_shop):
    variant = live_shop.variant()
    placed = live_shop.checkout(variant["sku"]).json()
    live_shop.stripe.webhooks_off()  # only our forged copy may arrive
    intent = live_shop.stripe.pay(placed["payment"]["client_secret"])
    [event] = [e for e in live_shop.stripe.events("payment_intent.succeeded")
               if e["data"]["object"]["id"] == intent["id"]]
    forged = live_shop.post_event(event, secret="whsec_guessed")
    assert forged.status_code == 400
    assert forged.headers["Content-Type"] == "application/problem+json"
    assert live_shop.order(placed)["status"] == "pending_payment"
    assert live_shop.query(lambda s: s.scalar(select(func.count()).select_from(StripeEvent))) == 0
    assert live_shop.post_event(event).status_code == 200
    assert live_shop.order(placed)["status"] == "paid"


def final_state(live_shop, placed: dict, variant_id: int) -> dict:
    order_id = placed["order"]["id"]

    def read(session):
        payment = session.scalar(select(Payment).where(Payment.order_id == order_id))
        return {
            "payment": payment.status,
            "refunded": session.scalar(select(func.coalesce(func.sum(Refund.amount), 0))
                                       .where(Refund.order_id == order_id)),
            "emails": session.scalar(select(func.count()).select_from(OutboxEmail)),
        }

    order = live_shop.order(placed)
    return {"status": order["status"], "paid_at_set": order["paid_at"] is not None,
            "stock": live_shop.stock(variant_id), **live_shop.query(read)}


def test_replayed_and_reordered_events_end_in_the_same_state(live_shop):
    variant = live_shop.variant(price=2000, stock=4)
    placed = live_shop.checkout(variant["sku"], 2).json()
    intent_id = placed["payment"]["payment_intent_id"]
    live_shop.stripe.webhooks_off()  # we deliver every event ourselves, in our own order
    live_shop.stripe.pay(placed["payment"]["client_secret"], card=CARD_DECLINED)
    live_shop.stripe.pay(placed["payment"]["client_secret"])
    live_shop.stripe.client.v1.refunds.create(params={"payment_intent": intent_id,
                                                      "amount": 500})
    events = [e for e in live_shop.stripe.events()
              if intent_id in json.dumps(e["data"]["object"])]
    assert [e["type"] for e in events] == [
        "payment_intent.payment_failed", "payment_intent.succeeded", "refund.created",
        "charge.refunded"]
    for event in reversed(events):
        response = live_shop.post_event(event)
        assert response.status_code == 200 and response.json()["duplicate"] is False
    expected = {"status": "paid", "paid_at_set": True, "payment": "succeeded", "refunded": 500,
                "emails": 1, "stock": (2, 0, 2)}
    assert final_state(live_shop, placed, variant["id"]) == expected
    for event in events + events:  # replays, in order this time
        response = live_shop.post_event(event)
        assert response.status_code == 200 and response.json()["duplicate"] is True
    assert final_state(live_shop, placed, variant["id"]) == expected
    # the same event under a fresh signature and timestamp is still only applied once
    body = json.dumps(events[1]).encode()
    again = live_shop.http.post(f"{live_shop.url}/api/v1/stripe/webhook", data=body, headers={
        "Content-Type": "application/json",
        "Stripe-Signature": sign(body, live_shop.webhook_secret)}, timeout=10)
    assert again.json()["duplicate"] is True


def test_the_hosted_checkout_page_pays_the_order(live_shop):
    variant = live_shop.variant(price=3100)
    placed = live_shop.checkout(variant["sku"], payment_flow="hosted",
                                success_url="http://localhost:3000/thanks",
                                cancel_url="http://localhost:3000/cart").json()
    assert placed["payment"]["checkout_url"]
    paid_page = live_shop.stripe.pay_checkout(placed["payment"]["checkout_url"])
    assert paid_page.status_code == 200 and paid_page.json()["payment_status"] == "paid"
    order = live_shop.wait_for_order(placed, paid)
    assert order["status"] == "paid"
    assert live_shop.stock(variant["id"]) == (4, 0, 4)
