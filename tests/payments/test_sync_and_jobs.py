"""POST /orders/{id}/sync, and the worker's expiry and reconciliation jobs: each asks Stripe
and applies the same transitions as the webhook."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shop.db import utcnow
from shop.payments import jobs
from shop.payments import services as payments
from tests.carts.factories import level, make_variant, place_order
from tests.fixtures.auth import bearer_for, make_user
from tests.fixtures.stripe import CARD_DECLINED
from tests.payments.helpers import (
    confirmation_emails,
    event_types,
    order_with_intent,
    payment_of,
    post_event,
    reload_order,
    sales_of,
    stripe_event,
)


def sync(client, order_id: int, *, token: str | None = None, headers=None, via="query"):
    if token and via == "header":
        headers = {**(headers or {}), "X-Order-Token": token}
    query = f"?access_token={token}" if token and via == "query" else ""
    return client.post(f"/api/v1/orders/{order_id}/sync{query}", headers=headers or {})


@pytest.mark.parametrize("via", ["query", "header"])
def test_a_guest_syncs_a_paid_order_with_its_token(client, db_session, use_localstripe, via):
    body = order_with_intent(client, make_variant(db_session, price=1100), 2)
    use_localstripe.pay(body["payment"]["client_secret"])
    response = sync(client, body["order"]["id"], token=body["access_token"], via=via)
    assert response.status_code == 200, response.json
    assert response.json["order"]["status"] == "paid"
    assert response.json["payment"]["status"] == "succeeded"
    assert response.json["payment"]["amount"] == {"amount": 2200, "currency": "GBP"}
    assert sales_of(db_session, body["order"]["id"]) == 2
    again = sync(client, body["order"]["id"], token=body["access_token"], via=via)
    assert again.status_code == 200
    assert confirmation_emails(db_session, body["order"]["id"]) == 1


def test_sync_before_paying_changes_nothing_and_a_decline_shows_why(
    client, db_session, use_localstripe
):
    body = order_with_intent(client, make_variant(db_session))
    order_id, token = body["order"]["id"], body["access_token"]
    waiting = sync(client, order_id, token=token).json
    assert waiting["order"]["status"] == "pending_payment"
    assert waiting["payment"]["status"] == "requires_payment_method"
    attempt = use_localstripe.pay(body["payment"]["client_secret"], card=CARD_DECLINED)
    declined = sync(client, order_id, token=token).json
    assert declined["order"]["status"] == "pending_payment"
    assert declined["payment"]["last_error"] == \
        f"card_declined: Your card was declined. ({attempt['latest_charge']['id']})"
    sync(client, order_id, token=token)
    # its webhook reports the same decline: still recorded once
    failed = stripe_event(use_localstripe, "payment_intent.payment_failed", attempt["id"])
    assert post_event(client, failed, "whsec_test_secret").json["duplicate"] is False
    assert event_types(reload_order(db_session, order_id)).count("payment_failed") == 1
    use_localstripe.pay(body["payment"]["client_secret"], card=CARD_DECLINED)  # a new attempt
    sync(client, order_id, token=token)
    assert event_types(reload_order(db_session, order_id)).count("payment_failed") == 2


def test_only_the_owner_or_the_token_holder_may_sync(client, db_session, use_localstripe):
    owner = make_user(db_session)
    owner_headers = bearer_for(db_session, owner)
    body = order_with_intent(client, make_variant(db_session), headers=owner_headers)
    order_id = body["order"]["id"]
    assert sync(client, order_id, headers=owner_headers).status_code == 200
    stranger = bearer_for(db_session, make_user(db_session))
    assert sync(client, order_id, headers=stranger).status_code == 404
    assert sync(client, order_id).status_code == 404
    assert sync(client, order_id, token="not-the-token").status_code == 404


def test_sync_with_stripe_down_is_a_503(client, db_session, use_localstripe, app, monkeypatch):
    body = order_with_intent(client, make_variant(db_session))
    monkeypatch.setitem(app.config, "STRIPE_API_BASE", "http://127.0.0.1:9")
    response = sync(client, body["order"]["id"], token=body["access_token"])
    assert response.status_code == 503
    assert response.json["code"] == "payment_provider_unavailable"


def expired_order(db_session, variant, quantity=1, **start):
    """A pending order with a payment in Stripe, whose reservation ended a minute ago."""
    placed = place_order(db_session, [(variant, quantity)],
                         now=utcnow() - timedelta(minutes=16))
    payment = payments.start_payment(session=db_session, order=placed.order, user=None, **start)
    return placed.order, payment


def test_expiry_cancels_the_intent_and_releases_the_stock(db_session, use_localstripe):
    variant = make_variant(db_session, stock=4)
    order, payment = expired_order(db_session, variant, 3)
    assert level(db_session, variant.id).reserved == 3
    assert jobs.expire_reservations(session=db_session, now=utcnow()) == 1
    order = reload_order(db_session, order.id)
    assert (order.status, order.cancel_reason) == ("cancelled", "reservation_expired")
    stock = level(db_session, variant.id)
    assert (stock.on_hand, stock.reserved) == (4, 0)
    intent = use_localstripe.client.v1.payment_intents.retrieve(payment["payment_intent_id"])
    assert (intent.status, intent.cancellation_reason) == ("canceled", "abandoned")
    assert payment_of(db_session, order.id).status == "canceled"
    assert jobs.expire_reservations(session=db_session, now=utcnow()) == 0


def test_expiry_of_an_intent_that_was_paid_settles_the_order_instead(db_session,
                                                                     use_localstripe):
    variant = make_variant(db_session, stock=2)
    order, payment = expired_order(db_session, variant)
    use_localstripe.pay(payment["client_secret"])  # its webhook never came
    jobs.expire_reservations(session=db_session, now=utcnow())
    order = reload_order(db_session, order.id)
    assert order.status == "paid" and sales_of(db_session, order.id) == 1
    assert level(db_session, variant.id).on_hand == 1


def test_expiry_still_releases_stock_when_stripe_is_down(db_session, use_localstripe, app,
                                                         monkeypatch):
    variant = make_variant(db_session, stock=2)
    order, _ = expired_order(db_session, variant, 2)
    monkeypatch.setitem(app.config, "STRIPE_API_BASE", "http://127.0.0.1:9")
    assert jobs.expire_reservations(session=db_session, now=utcnow()) == 1
    assert reload_order(db_session, order.id).status == "cancelled"
    assert level(db_session, variant.id).reserved == 0


def test_expiry_of_a_hosted_order_expires_its_checkout_session(db_session, use_localstripe):
    variant = make_variant(db_session)
    order, _ = expired_order(db_session, variant, flow="hosted",
                             success_url="http://localhost/ok", cancel_url="http://localhost/no")
    # the session outlives the 15 minutes (Stripe's 30-minute floor): expire when it ends
    jobs.expire_reservations(session=db_session, now=utcnow())
    assert reload_order(db_session, order.id).status == "pending_payment"
    jobs.expire_reservations(session=db_session, now=utcnow() + timedelta(minutes=32))
    order = reload_order(db_session, order.id)
    assert (order.status, order.cancel_reason) == ("cancelled", "reservation_expired")
    row = payment_of(db_session, order.id)
    assert row.status == "expired"
    assert use_localstripe.client.v1.checkout.sessions.retrieve(
        row.checkout_session_id).status == "expired"


def test_reconciliation_recovers_a_paid_order_whose_webhook_never_came(
    client, db_session, use_localstripe
):
    paid_one = order_with_intent(client, make_variant(db_session, price=700))
    unpaid_one = order_with_intent(client, make_variant(db_session, price=800))
    use_localstripe.pay(paid_one["payment"]["client_secret"])
    # too young to reconcile: the webhook normally arrives within seconds
    assert jobs.reconcile_pending(session=db_session, now=utcnow()) == 0
    later = utcnow() + timedelta(minutes=3)
    assert jobs.reconcile_pending(session=db_session, now=later) == 2
    assert reload_order(db_session, paid_one["order"]["id"]).status == "paid"
    assert confirmation_emails(db_session, paid_one["order"]["id"]) == 1
    assert reload_order(db_session, unpaid_one["order"]["id"]).status == "pending_payment"
    assert jobs.reconcile_pending(session=db_session, now=later) == 1  # only the unpaid one


def test_reconciliation_goes_on_past_an_order_stripe_cannot_answer_for(
    client, db_session, use_localstripe
):
    lost = order_with_intent(client, make_variant(db_session))
    paid_one = order_with_intent(client, make_variant(db_session))
    use_localstripe.pay(paid_one["payment"]["client_secret"])
    payment_of(db_session, lost["order"]["id"]).payment_intent_id = "pi_unknown_to_stripe"
    assert jobs.reconcile_pending(session=db_session, now=utcnow() + timedelta(minutes=3)) == 1
    assert reload_order(db_session, paid_one["order"]["id"]).status == "paid"
