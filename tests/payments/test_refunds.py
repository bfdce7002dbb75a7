"""payments.refund: the card part of a refund, through Stripe's refund API, never more than
was captured minus what was already refunded (checked here, not left to Stripe)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from shop.errors import Conflict, ValidationFailed
from shop.extensions import db
from shop.orders.models import Order
from shop.payments import services as payments
from shop.payments.models import Refund
from tests.carts.factories import make_variant
from tests.payments.helpers import order_with_intent, post_event, reload_order, stripe_event

SECRET = "whsec_test_secret"


@pytest.fixture
def paid_order(client, db_session, use_localstripe):
    body = order_with_intent(client, make_variant(db_session, price=2500))
    intent = use_localstripe.pay(body["payment"]["client_secret"])
    post_event(client, stripe_event(use_localstripe, "payment_intent.succeeded", intent["id"]),
               SECRET)
    return reload_order(db_session, body["order"]["id"])


def test_a_refund_goes_through_stripe_with_our_idempotency_key(db_session, paid_order,
                                                               use_localstripe):
    refund = payments.refund(session=db_session, order=paid_order, amount=1000,
                             idempotency_key="refund-abc", reason="customer changed mind")
    assert (refund.amount, refund.status, refund.reason) == \
        (1000, "succeeded", "customer changed mind")
    in_stripe = use_localstripe.client.v1.refunds.retrieve(refund.stripe_refund_id)
    assert in_stripe.amount == 1000
    assert in_stripe.metadata.order_id == str(paid_order.id)
    assert payments.refundable_amount(session=db_session, payment=refund.payment) == 1500


def test_the_same_key_replays_the_refund_without_asking_stripe_again(db_session, paid_order,
                                                                    use_localstripe):
    first = payments.refund(session=db_session, order=paid_order, amount=700,
                            idempotency_key="refund-once", reason="broken")
    again = payments.refund(session=db_session, order=paid_order, amount=700,
                            idempotency_key="refund-once", reason="broken")
    assert again.id == first.id
    assert db_session.scalar(select(func.count()).select_from(Refund)) == 1
    charge = use_localstripe.client.v1.payment_intents.retrieve(
        first.payment.payment_intent_id).latest_charge
    assert charge.amount_refunded == 700
    with pytest.raises(Conflict) as mismatch:
        payments.refund(session=db_session, order=paid_order, amount=800,
                        idempotency_key="refund-once", reason="broken")
    assert mismatch.value.code == "refund_idempotency_mismatch"


def test_refunds_never_add_up_to_more_than_was_paid(db_session, paid_order, monkeypatch):
    payments.refund(session=db_session, order=paid_order, amount=2000,
                    idempotency_key="refund-1", reason="part")

    def stripe_must_not_be_asked(*_args, **_kwargs):
        raise AssertionError("an over-refund reached Stripe")

    monkeypatch.setattr("shop.payments.refunds._create_in_stripe", stripe_must_not_be_asked)
    with pytest.raises(Conflict) as refused:
        payments.refund(session=db_session, order=paid_order, amount=501,
                        idempotency_key="refund-2", reason="too much")
    assert refused.value.code == "refund_exceeds_payment"
    assert refused.value.extra == {"refundable": 500}
    with pytest.raises(ValidationFailed):
        payments.refund(session=db_session, order=paid_order, amount=0,
                        idempotency_key="refund-3", reason="nothing")


def test_an_unpaid_order_has_nothing_to_refund(client, db_session, use_localstripe):
    body = order_with_intent(client, make_variant(db_session))
    order = db_session.get(Order, body["order"]["id"])
    with pytest.raises(Conflict) as refused:
        payments.refund(session=db_session, order=order, amount=1, idempotency_key="r-unpaid",
                        reason="x")
    assert refused.value.code == "refund_exceeds_payment"


@pytest.mark.postgresql_only
def test_concurrent_refunds_cannot_exceed_the_payment(app, committed, use_localstripe):
    with app.app_context():
        from tests.payments.helpers import cart_with, checkout

        client = app.test_client()
        variant = make_variant(db.session, price=3000)
        db.session.commit()
        body = checkout(client, cart_with(client, variant))
        use_localstripe.pay(body["payment"]["client_secret"])
        client.post(f"/api/v1/orders/{body['order']['id']}/sync",
                    query_string={"access_token": body["access_token"]})
        order_id = body["order"]["id"]
        db.session.remove()
    start = threading.Barrier(4)

    def refund(n: int) -> str:
        with app.app_context():
            order = db.session.get(Order, order_id)
            start.wait()
            try:
                payments.refund(session=db.session, order=order, amount=1000,
                                idempotency_key=f"race-{n}", reason="race")
                db.session.commit()
                return "refunded"
            except Conflict as exc:
                db.session.rollback()
                return exc.code
            finally:
                db.session.remove()

    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = sorted(pool.map(refund, range(4)))
    assert outcomes == ["refund_exceeds_payment"] + ["refunded"] * 3
    with app.app_context():
        assert db.session.scalar(select(func.sum(Refund.amount))) == 3000
        db.session.remove()
