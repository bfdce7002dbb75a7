"""Refunds and vouchers: a voucher purchase is voided (or the refund refused if it was used);
the voucher part of a refund goes back to the vouchers that paid, but never for a refund made
on the card outside the shop."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from shop.money import Money
from shop.orders import services as orders
from shop.orders.models import Order
from shop.payments.models import Payment, Refund
from shop.vouchers import purchases, services
from tests.carts.factories import make_variant
from tests.fixtures.auth import bearer_for, make_user
from tests.vouchers.conftest import assert_ledger_matches, issue_money, place_order


def card_paid_voucher_order(client, stripe) -> dict:
    """A £50 gift voucher bought by card (localstripe), paid and issued."""
    cart_id = client.post("/api/v1/carts").json["id"]
    client.post(f"/api/v1/carts/{cart_id}/items", json={
        "sku": "GLW-GV-50", "quantity": 1, "voucher": {"recipient_email": "gift@example.com"}})
    placed = client.post(f"/api/v1/carts/{cart_id}/checkout", json={
        "email": "buyer@example.com"}).json
    assert placed["payment"]["amount"]["amount"] == 5000, placed
    assert stripe.pay(placed["payment"]["client_secret"])["status"] == "succeeded"
    synced = client.post(f"/api/v1/orders/{placed['order']['id']}/sync",
                         headers={"X-Order-Token": placed["access_token"]})
    assert synced.status_code == 200, synced.json
    return placed


def refund(client, headers, order_id, **body):
    return client.post(f"/api/v1/admin/orders/{order_id}/refunds", headers=headers,
                       json={"reason": "changed their mind", **body})


@pytest.fixture
def admin_headers_for(db_session):
    return bearer_for(db_session, make_user(db_session, role="admin"))


def test_refunding_an_unused_voucher_purchase_voids_it(client, db_session, use_localstripe,
                                                       admin_headers_for):
    placed = card_paid_voucher_order(client, use_localstripe)
    order = db_session.get(Order, placed["order"]["id"])
    [voucher] = purchases.bought_by(session=db_session, order_id=order.id)
    [line] = [line for line in order.lines if line.kind == "voucher"]
    response = refund(client, admin_headers_for, order.id,
                      lines=[{"line_id": line.id, "quantity": 1}])
    assert response.status_code == 201, response.json
    assert response.json["card_amount"] == {"amount": 5000, "currency": "GBP"}
    voucher = assert_ledger_matches(db_session, voucher.id)
    assert voucher.status == "void" and voucher.balance_amount == 0
    assert voucher.transactions[-1].note == "refunded: changed their mind"


def test_refunding_a_used_voucher_purchase_is_refused(client, db_session, use_localstripe,
                                                      admin_headers_for):
    placed = card_paid_voucher_order(client, use_localstripe)
    order = db_session.get(Order, placed["order"]["id"])
    [voucher] = purchases.bought_by(session=db_session, order_id=order.id)
    services.redeem_money(session=db_session, voucher=voucher, amount=Money(500, "GBP"),
                          note="a facial add-on", staff=make_user(db_session, role="staff"))
    [line] = [line for line in order.lines if line.kind == "voucher"]
    response = refund(client, admin_headers_for, order.id,
                      lines=[{"line_id": line.id, "quantity": 1}])
    assert response.status_code == 409 and response.json["code"] == "voucher_already_used"
    assert db_session.scalar(select(Refund.id).where(Refund.order_id == order.id)) is None
    assert assert_ledger_matches(db_session, voucher.id).balance_amount == 4500


def _voucher_paid_order(db_session, voucher_amount: int, price: int):
    goods = make_variant(db_session, price=price, stock=3)
    issued = issue_money(db_session, voucher_amount)
    order = place_order(db_session, [(goods.sku, {})], applied=[issued.code])
    orders.mark_paid(session=db_session, order_id=order.id, amount_received=order.amount_due,
                     reference="pi_test")
    return order, issued


def test_the_voucher_part_of_a_refund_is_credited_back(db_session):
    order, issued = _voucher_paid_order(db_session, 3000, 5000)
    orders.record_refund(session=db_session, order_id=order.id, amount=1200,
                         reference="staff-refund-1", reason="damaged")
    voucher = assert_ledger_matches(db_session, issued.voucher.id)
    assert voucher.balance_amount == 1200 and voucher.status == "active"
    assert voucher.transactions[-1].kind == "refund_credit"


def test_a_card_refund_made_in_stripe_credits_no_voucher(db_session):
    order, issued = _voucher_paid_order(db_session, 3000, 5000)
    payment = Payment(order_id=order.id, status="succeeded", amount=order.amount_due,
                      currency="GBP", payment_intent_id=f"pi_outside_{order.id}")
    db_session.add(payment)
    db_session.flush()
    db_session.add(Refund(order_id=order.id, payment_id=payment.id, amount=2000,
                          stripe_refund_id=f"re_outside_{order.id}", status="succeeded",
                          idempotency_key=f"stripe:re_outside_{order.id}"))
    db_session.flush()
    orders.record_refund(session=db_session, order_id=order.id, amount=2000,
                         reference=f"re_outside_{order.id}", reason="refunded in Stripe")
    assert assert_ledger_matches(db_session, issued.voucher.id).balance_amount == 0


def test_a_credit_that_cannot_be_made_flags_the_order(db_session):
    order, issued = _voucher_paid_order(db_session, 3000, 5000)
    services.void(session=db_session, voucher=issued.voucher, reason="fraud",
                  staff=make_user(db_session, role="staff"))
    orders.record_refund(session=db_session, order_id=order.id, amount=1000,
                         reference="staff-refund-9")
    order = db_session.get(Order, order.id)
    assert order.needs_attention and order.attention_reason == "voucher_credit_short"
