"""POST /api/v1/stripe/webhook: signature checks, each event applied once, any order.

The events are the ones localstripe recorded for real payments, posted here signed as Stripe
signs them (the end-to-end tests let localstripe deliver them itself)."""

from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import func, select

from shop.payments.models import Refund, StripeEvent
from tests.carts.factories import level, make_variant
from tests.fixtures.stripe import CARD_DECLINED, event_body, sign
from tests.payments.helpers import (
    confirmation_emails,
    customer_email,
    event_types,
    order_with_intent,
    payment_of,
    post_event,
    post_new_event,
    reload_order,
    sales_of,
    stripe_event,
)

SECRET = "whsec_test_secret"  # app_config's STRIPE_WEBHOOK_SECRET


@pytest.fixture
def paid(client, db_session, use_localstripe):
    """An order for 2 units whose PaymentIntent succeeded in Stripe (no webhook yet)."""
    variant = make_variant(db_session, price=1500, stock=5)
    body = order_with_intent(client, variant, 2)
    intent = use_localstripe.pay(body["payment"]["client_secret"])
    assert intent["status"] == "succeeded"
    return {"variant": variant, "order_id": body["order"]["id"], "intent": intent,
            "event": stripe_event(use_localstripe, "payment_intent.succeeded", intent["id"])}


def event_rows(session) -> int:
    return session.scalar(select(func.count()).select_from(StripeEvent))


def test_payment_intent_succeeded_marks_the_order_paid(client, db_session, paid):
    response = post_event(client, paid["event"], SECRET)
    assert response.status_code == 200, response.json
    assert response.json == {"received": True, "duplicate": False}
    order = reload_order(db_session, paid["order_id"])
    assert order.status == "paid" and order.payment_reference == paid["intent"]["id"]
    assert sales_of(db_session, order.id) == 2
    stock = level(db_session, paid["variant"].id)
    assert (stock.on_hand, stock.reserved) == (3, 0)
    assert confirmation_emails(db_session, order.id) == 1
    assert payment_of(db_session, order.id).status == "succeeded"
    recorded = db_session.scalar(select(StripeEvent))
    assert recorded.event_id == paid["event"]["id"] and recorded.processed_at is not None


def test_a_replayed_event_changes_nothing(client, db_session, paid):
    assert post_event(client, paid["event"], SECRET).json["duplicate"] is False
    replay = post_event(client, paid["event"], SECRET)
    assert replay.status_code == 200 and replay.json["duplicate"] is True
    assert sales_of(db_session, paid["order_id"]) == 2
    assert confirmation_emails(db_session, paid["order_id"]) == 1
    assert event_types(reload_order(db_session, paid["order_id"])).count("paid") == 1
    assert event_rows(db_session) == 1


@pytest.mark.parametrize("forge", ["wrong_secret", "changed_body", "no_header", "too_old",
                                   "garbage_header"])
def test_a_bad_signature_is_refused_and_changes_nothing(client, db_session, paid, forge):
    body = json.dumps(paid["event"]).encode()
    signature = {
        "wrong_secret": sign(body, "whsec_not_ours"),
        "changed_body": sign(body.replace(b'"succeeded"', b'"succeeded" '), SECRET),
        "no_header": "",
        "too_old": sign(body, SECRET, timestamp=int(time.time()) - 301),
        "garbage_header": "t=abc,v1=zzz",
    }[forge]
    response = client.post("/api/v1/stripe/webhook", data=body, content_type="application/json",
                           headers={"Stripe-Signature": signature} if signature else {})
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    assert response.json["code"] == "invalid_signature"
    assert reload_order(db_session, paid["order_id"]).status == "pending_payment"
    assert event_rows(db_session) == 0


def test_without_a_configured_secret_nothing_is_accepted(client, db_session, app, monkeypatch):
    monkeypatch.setitem(app.config, "STRIPE_WEBHOOK_SECRET", "")
    body = event_body("payment_intent.succeeded", {"id": "pi_x", "status": "succeeded"})
    response = post_event(client, body, "")  # signed with the empty key itself
    assert response.status_code == 503 and response.json["code"] == "webhook_not_configured"
    assert event_rows(db_session) == 0


@pytest.mark.parametrize("body", [b'{"hello": "world"}', b"[]", b'"text"', b"not json",
                                  b'{"id": "evt_1", "type": "x", "data": "y"}',
                                  b'{"id": "evt_1", "type": "x", "data": {"object": 1}}'])
def test_a_signed_body_that_is_not_an_event_is_refused(client, db_session, body):
    response = post_event(client, body, SECRET)
    assert response.status_code == 400 and response.json["code"] == "invalid_payload"
    assert event_rows(db_session) == 0


def test_a_signed_event_with_text_the_database_cannot_store_is_applied_all_the_same(
        client, db_session, use_localstripe):
    """Stripe's text is taken as sent, but a NUL or a lone surrogate in it (say, in a bank's
    decline message) would fail on PostgreSQL, and Stripe would retry it for days: such
    characters are stored as U+FFFD."""
    body = order_with_intent(client, make_variant(db_session))
    intent = use_localstripe.pay(body["payment"]["client_secret"], card=CARD_DECLINED)
    event = json.loads(json.dumps(
        stripe_event(use_localstripe, "payment_intent.payment_failed", intent["id"])))
    event["data"]["object"]["last_payment_error"]["message"] = "Declined\x00 by \ud800 bank"
    assert post_event(client, event, SECRET).status_code == 200
    payment = payment_of(db_session, body["order"]["id"])
    assert "Declined\ufffd by \ufffd bank" in payment.last_error


def test_unknown_event_types_are_acknowledged(client, db_session, use_localstripe):
    response = post_new_event(client, "customer.created", {"id": "cus_123"}, SECRET)
    assert response.status_code == 200 and response.json["duplicate"] is False
    assert event_rows(db_session) == 1


def test_events_for_intents_that_are_not_ours_are_acknowledged(client, db_session,
                                                               use_localstripe):
    intent = {"id": "pi_elsewhere", "object": "payment_intent", "status": "succeeded",
              "amount": 100, "currency": "gbp", "metadata": {}}
    assert post_new_event(client, "payment_intent.succeeded", intent, SECRET).status_code == 200


def test_a_decline_keeps_the_order_payable_and_records_why(client, db_session,
                                                           use_localstripe):
    body = order_with_intent(client, make_variant(db_session))
    intent = use_localstripe.pay(body["payment"]["client_secret"], card=CARD_DECLINED)
    event = stripe_event(use_localstripe, "payment_intent.payment_failed", intent["id"])
    assert post_event(client, event, SECRET).status_code == 200
    order = reload_order(db_session, body["order"]["id"])
    assert order.status == "pending_payment"
    assert "payment_failed" in event_types(order)
    payment = payment_of(db_session, order.id)
    assert payment.status == "requires_payment_method"
    assert payment.last_error == \
        f"card_declined: Your card was declined. ({intent['latest_charge']['id']})"


@pytest.mark.parametrize("order_of_arrival", ["in_order", "reversed"])
def test_failure_and_success_in_any_order_end_paid(client, db_session, use_localstripe,
                                                   order_of_arrival):
    body = order_with_intent(client, make_variant(db_session))
    secret = body["payment"]["client_secret"]
    intent_id = use_localstripe.pay(secret, card=CARD_DECLINED)["id"]
    use_localstripe.pay(secret)
    events = [stripe_event(use_localstripe, "payment_intent.payment_failed", intent_id),
              stripe_event(use_localstripe, "payment_intent.succeeded", intent_id)]
    if order_of_arrival == "reversed":
        events.reverse()
    for event in events:
        assert post_event(client, event, SECRET).status_code == 200
    order = reload_order(db_session, body["order"]["id"])
    assert order.status == "paid"
    payment = payment_of(db_session, order.id)
    assert (payment.status, payment.last_error) == ("succeeded", None)
    assert event_types(order).count("paid") == 1
    assert event_types(order).count("payment_failed") == (1 if order_of_arrival == "in_order"
                                                          else 0)


def test_a_canceled_intent_cancels_the_order_and_releases_its_stock(client, db_session,
                                                                    use_localstripe):
    variant = make_variant(db_session, stock=3)
    body = order_with_intent(client, variant, 3)
    intent_id = body["payment"]["payment_intent_id"]
    use_localstripe.client.v1.payment_intents.cancel(intent_id)
    event = stripe_event(use_localstripe, "payment_intent.canceled", intent_id)
    assert post_event(client, event, SECRET).status_code == 200
    order = reload_order(db_session, body["order"]["id"])
    assert (order.status, order.cancel_reason) == ("cancelled", "payment_canceled")
    assert level(db_session, variant.id).reserved == 0
    assert payment_of(db_session, order.id).status == "canceled"


def test_a_late_success_after_the_reservation_was_released_is_honoured_if_stock_allows(
    client, db_session, paid
):
    from shop.orders import services as orders

    orders.release_expired(session=db_session, order_id=paid["order_id"])
    assert post_event(client, paid["event"], SECRET).status_code == 200
    order = reload_order(db_session, paid["order_id"])
    assert order.status == "paid" and not order.needs_attention
    assert sales_of(db_session, order.id) == 2
    assert db_session.scalar(select(func.count()).select_from(Refund)) == 0


def test_a_late_success_without_stock_is_flagged_and_refunded_automatically(
    client, db_session, paid, use_localstripe
):
    from shop.inventory import services as inventory
    from shop.orders import services as orders

    orders.release_expired(session=db_session, order_id=paid["order_id"])
    inventory.record_movement(session=db_session, variant_id=paid["variant"].id, quantity=-5,
                              reason="damaged")
    assert post_event(client, paid["event"], SECRET).status_code == 200
    order = reload_order(db_session, paid["order_id"])
    assert order.status == "cancelled" and order.needs_attention
    assert order.attention_reason == "paid_after_expiry_out_of_stock"
    refund = db_session.scalar(select(Refund).where(Refund.order_id == order.id))
    assert (refund.amount, refund.status) == (3000, "succeeded")
    assert refund.idempotency_key == f"order-{order.id}-auto-refund"
    email = customer_email(db_session, f"order-auto-refund:{order.id}")
    assert email.to == order.email and "could not be completed" in email.subject
    assert "sold out" in email.text and "refunded all £30.00" in email.text
    in_stripe = use_localstripe.client.v1.refunds.retrieve(refund.stripe_refund_id)
    assert (in_stripe.amount, in_stripe.payment_intent) == (3000, paid["intent"]["id"])
    # Stripe's refund events for it, and a replay of the payment, refund nothing more
    for type_ in ("refund.created", "charge.refunded"):
        object_id = refund.stripe_refund_id if type_ == "refund.created" \
            else in_stripe.charge
        assert post_event(client, stripe_event(use_localstripe, type_, object_id),
                          SECRET).status_code == 200
    assert post_event(client, event_body("payment_intent.succeeded", paid["intent"]),
                      SECRET).status_code == 200
    assert db_session.scalar(select(func.count()).select_from(Refund)) == 1
    assert event_types(reload_order(db_session, order.id)).count("refunded") == 1


def test_a_hosted_session_paid_later_by_an_async_method(client, db_session, use_localstripe):
    body = order_with_intent(client, make_variant(db_session), payment_flow="hosted",
                             success_url="http://localhost/ok", cancel_url="http://localhost/no")
    payment = payment_of(db_session, body["order"]["id"])
    session = use_localstripe.client.v1.checkout.sessions.retrieve(
        payment.checkout_session_id).to_dict()
    unpaid = {**session, "status": "complete", "payment_status": "unpaid",
              "payment_intent": "pi_async_1"}
    assert post_new_event(client, "checkout.session.completed", unpaid, SECRET).status_code \
        == 200
    order = reload_order(db_session, body["order"]["id"])
    assert order.status == "pending_payment"
    assert payment_of(db_session, order.id).status == "processing"
    succeeded = {**unpaid, "payment_status": "paid"}
    post_new_event(client, "checkout.session.async_payment_succeeded", succeeded, SECRET)
    order = reload_order(db_session, order.id)
    assert order.status == "paid" and order.payment_reference == "pi_async_1"
    assert payment_of(db_session, order.id).payment_intent_id == "pi_async_1"


def test_a_failed_async_payment_is_recorded(client, db_session, use_localstripe):
    body = order_with_intent(client, make_variant(db_session), payment_flow="hosted",
                             success_url="http://localhost/ok", cancel_url="http://localhost/no")
    payment = payment_of(db_session, body["order"]["id"])
    session = use_localstripe.client.v1.checkout.sessions.retrieve(
        payment.checkout_session_id).to_dict()
    post_new_event(client, "checkout.session.async_payment_failed",
                   {**session, "status": "complete", "payment_status": "unpaid"}, SECRET)
    order = reload_order(db_session, body["order"]["id"])
    assert order.status == "pending_payment" and "payment_failed" in event_types(order)


@pytest.mark.parametrize("first", ["payment_intent.succeeded", "checkout.session.completed"])
def test_a_paid_hosted_session_is_settled_by_either_of_its_events(client, db_session,
                                                                  use_localstripe, first):
    body = order_with_intent(client, make_variant(db_session, price=2200),
                             payment_flow="hosted", success_url="http://localhost/ok",
                             cancel_url="http://localhost/no")
    assert use_localstripe.pay_checkout(body["payment"]["checkout_url"]).status_code == 200
    payment = payment_of(db_session, body["order"]["id"])
    session = use_localstripe.client.v1.checkout.sessions.retrieve(payment.checkout_session_id)
    events = {"checkout.session.completed": stripe_event(
                  use_localstripe, "checkout.session.completed", session.id),
              "payment_intent.succeeded": stripe_event(
                  use_localstripe, "payment_intent.succeeded", session.payment_intent)}
    post_event(client, events.pop(first), SECRET)
    order = reload_order(db_session, body["order"]["id"])
    assert order.status == "paid" and order.payment_reference == session.payment_intent
    post_event(client, events.popitem()[1], SECRET)
    assert event_types(reload_order(db_session, order.id)).count("paid") == 1
    assert payment_of(db_session, order.id).payment_intent_id == session.payment_intent


def test_an_expired_session_releases_the_stock(client, db_session, use_localstripe):
    variant = make_variant(db_session, stock=2)
    body = order_with_intent(client, variant, 2, payment_flow="hosted",
                             success_url="http://localhost/ok", cancel_url="http://localhost/no")
    payment = payment_of(db_session, body["order"]["id"])
    use_localstripe.client.v1.checkout.sessions.expire(payment.checkout_session_id)
    event = stripe_event(use_localstripe, "checkout.session.expired", payment.checkout_session_id)
    post_event(client, event, SECRET)
    order = reload_order(db_session, body["order"]["id"])
    assert (order.status, order.cancel_reason) == ("cancelled", "reservation_expired")
    assert level(db_session, variant.id).reserved == 0
    assert payment_of(db_session, order.id).status == "expired"


def test_a_refund_made_in_stripe_is_recorded_and_reported_to_the_order(
    client, db_session, paid, use_localstripe, monkeypatch
):
    from shop.orders import services as orders

    heard = []
    monkeypatch.setattr(orders, "on_refund", [lambda **kw: heard.append(kw["amount"])])
    post_event(client, paid["event"], SECRET)
    refund = use_localstripe.client.v1.refunds.create(
        params={"payment_intent": paid["intent"]["id"], "amount": 1000})
    charge_id = paid["intent"]["latest_charge"]["id"]
    for event in (stripe_event(use_localstripe, "charge.refunded", charge_id),
                  stripe_event(use_localstripe, "refund.created", refund.id)):
        assert post_event(client, event, SECRET).status_code == 200
    row = db_session.scalar(select(Refund).where(Refund.stripe_refund_id == refund.id))
    assert (row.amount, row.status, row.idempotency_key) == \
        (1000, "succeeded", f"stripe:{refund.id}")
    assert heard == [1000]
    assert event_types(reload_order(db_session, paid["order_id"])).count("refunded") == 1


def test_a_refund_that_fails_later_flags_the_order(client, db_session, use_localstripe):
    from shop.payments import services as payments
    from tests.fixtures.stripe import CARD_REFUND_FAILS

    body = order_with_intent(client, make_variant(db_session, price=900))
    intent = use_localstripe.pay(body["payment"]["client_secret"], card=CARD_REFUND_FAILS)
    post_event(client, stripe_event(use_localstripe, "payment_intent.succeeded", intent["id"]),
               SECRET)
    order = reload_order(db_session, body["order"]["id"])
    refund = payments.refund(session=db_session, order=order, amount=900,
                             idempotency_key="staff-refund-1", reason="damaged in post")
    deadline = time.monotonic() + 5
    while not [e for e in use_localstripe.events("refund.failed")
               if e["data"]["object"]["id"] == refund.stripe_refund_id]:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    post_event(client, stripe_event(use_localstripe, "refund.failed", refund.stripe_refund_id),
               SECRET)
    db_session.refresh(refund)
    assert refund.status == "failed"
    order = reload_order(db_session, order.id)
    assert order.needs_attention and order.attention_reason == "refund_failed"
    told = customer_email(db_session, f"order-refund-failed:{refund.id}")
    assert told.to == order.email and "£9.00" in told.text and "did not go through" in \
        told.subject


def test_a_dispute_flags_the_order_and_calls_the_dispute_hooks(client, db_session,
                                                               use_localstripe):
    from shop.payments import services as payments
    from tests.fixtures.stripe import CARD_DISPUTED

    frozen = []
    payments.on_dispute.append(lambda *, session, order: frozen.append(order.id))
    try:
        body = order_with_intent(client, make_variant(db_session))
        intent = use_localstripe.pay(body["payment"]["client_secret"], card=CARD_DISPUTED)
        deadline = time.monotonic() + 5
        while not (disputes := [e for e in use_localstripe.events("charge.dispute.created")
                                if e["data"]["object"]["payment_intent"] == intent["id"]]):
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert post_event(client, disputes[0], SECRET).status_code == 200
    finally:
        payments.on_dispute.pop()
    order = reload_order(db_session, body["order"]["id"])
    assert order.needs_attention and order.attention_reason == "dispute"
    assert "dispute" in event_types(order)
    assert frozen == [order.id]

