"""Order transitions: paid (sale in the ledger, one email), failed, expired, paid late."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from shop.carts.models import Cart
from shop.db import utcnow
from shop.errors import NotFound
from shop.inventory import services as inventory
from shop.inventory.models import StockMovement
from shop.notifications.models import OutboxEmail
from shop.orders import services as orders
from tests.carts.factories import ledger_sum, level, make_variant, place_order
from tests.fixtures.auth import make_user


def sales(session, order_id):
    return list(session.scalars(
        select(StockMovement).where(StockMovement.order_id == order_id,
                                    StockMovement.reason == "sale")))


def confirmations(session, order_id):
    return list(session.scalars(
        select(OutboxEmail).where(OutboxEmail.dedupe_key == f"order-confirmation:{order_id}")))


def test_paid_turns_the_reservation_into_a_sale(db_session):
    serum, brush = make_variant(db_session, stock=5), make_variant(db_session, stock=7)
    order = place_order(db_session, [(serum, 2), (brush, 3)]).order
    result = orders.mark_paid(session=db_session, order_id=order.id,
                              amount_received=order.amount_due, reference="pi_123")
    assert result.changed and not result.must_refund
    assert order.status == "paid" and order.paid_at and order.payment_reference == "pi_123"
    for variant, on_hand in ((serum, 3), (brush, 4)):
        stock = level(db_session, variant.id)
        assert (stock.on_hand, stock.reserved) == (on_hand, 0)
        assert ledger_sum(db_session, variant.id) == stock.on_hand
    assert sorted(m.quantity for m in sales(db_session, order.id)) == [-3, -2]
    assert {r.status for r in order.reservations} == {"converted"}
    assert [e.type for e in order.events] == ["placed", "paid"]


def test_paid_is_written_at_once_and_leaves_nothing_to_flush(db_session):
    serum = make_variant(db_session, stock=5)
    order = place_order(db_session, [(serum, 2)]).order
    orders.mark_paid(session=db_session, order_id=order.id, amount_received=order.amount_due,
                     reference="pi_now")
    assert not (db_session.dirty or db_session.new)
    db_session.expire_all()  # what the database holds, not the session's copies
    assert (order.status, order.payment_reference) == ("paid", "pi_now") and order.paid_at
    assert {r.status for r in order.reservations} == {"converted"}
    assert [e.type for e in order.events] == ["placed", "paid"]


def test_confirmation_email_lists_lines_totals_and_vat(db_session):
    variant = make_variant(db_session, price=1250, stock=5, name="Moist Serum")
    order = place_order(db_session, [(variant, 2)], shipping_method="uk-next-day").order
    orders.mark_paid(session=db_session, order_id=order.id, amount_received=order.amount_due,
                     reference="pi_mail")
    [email] = confirmations(db_session, order.id)
    assert email.to == "guest@example.com" and order.number in email.subject
    assert f"2 x Moist Serum - 30 ml ({variant.sku})" in email.text
    assert "£25.00" in email.text and "UK next-day delivery: £6.95" in email.text
    assert "Total: £31.95" in email.text and "Includes VAT (20%): £5.33" in email.text
    assert "1 Harley Street" in email.text
    assert "<table>" in email.html and "Moist Serum" in email.html and "£31.95" in email.html


def test_paying_twice_changes_nothing_the_second_time(db_session, monkeypatch):
    calls = []
    monkeypatch.setattr(orders, "on_paid", [lambda *, session, order: calls.append(order.id)])
    variant = make_variant(db_session, stock=5)
    order = place_order(db_session, [(variant, 2)]).order
    first = orders.mark_paid(session=db_session, order_id=order.id,
                             amount_received=order.amount_due, reference="pi_1")
    second = orders.mark_paid(session=db_session, order_id=order.id,
                              amount_received=order.amount_due, reference="pi_1")
    assert first.changed and not second.changed and not second.must_refund
    assert calls == [order.id]
    assert len(sales(db_session, order.id)) == 1 and len(confirmations(db_session, order.id)) == 1
    assert level(db_session, variant.id).on_hand == 3


def test_an_underpayment_is_flagged_not_accepted(db_session):
    order = place_order(db_session, [(make_variant(db_session, price=2000), 1)]).order
    result = orders.mark_paid(session=db_session, order_id=order.id,
                              amount_received=order.amount_due - 1, reference="pi_short")
    assert not result.changed and order.status == "pending_payment" and order.paid_at is None
    assert order.needs_attention and order.attention_reason == "payment_amount_mismatch"


def test_a_payment_failure_keeps_the_order_payable(db_session):
    variant = make_variant(db_session, stock=5)
    order = place_order(db_session, [(variant, 1)]).order
    orders.record_payment_failure(session=db_session, order_id=order.id, reason="card_declined")
    assert order.status == "pending_payment" and level(db_session, variant.id).reserved == 1
    assert order.events[-1].type == "payment_failed"
    assert order.events[-1].data == {"reason": "card_declined"}
    assert orders.mark_paid(session=db_session, order_id=order.id,
                            amount_received=order.amount_due, reference="pi_retry").changed


def test_expiry_releases_the_stock_cancels_and_reopens_the_cart(db_session, monkeypatch):
    cancelled = []
    monkeypatch.setattr(orders, "on_cancel", [lambda *, session, order: cancelled.append(order.id)])
    variant = make_variant(db_session, stock=5)
    order = place_order(db_session, [(variant, 4)]).order
    orders.release_expired(session=db_session, order_id=order.id)
    orders.release_expired(session=db_session, order_id=order.id)  # a repeat is a no-op
    assert order.status == "cancelled" and order.cancel_reason == "reservation_expired"
    assert (level(db_session, variant.id).on_hand, level(db_session, variant.id).reserved) == (5, 0)
    assert [r.status for r in order.reservations] == ["released"] and cancelled == [order.id]
    assert db_session.get(Cart, order.cart_id).status == "open"
    assert ledger_sum(db_session, variant.id) == 5


def test_a_late_payment_is_honoured_while_stock_allows(db_session):
    variant = make_variant(db_session, stock=5)
    order = place_order(db_session, [(variant, 2)]).order
    orders.release_expired(session=db_session, order_id=order.id)
    result = orders.mark_paid(session=db_session, order_id=order.id,
                              amount_received=order.amount_due, reference="pi_late")
    assert result.changed and not result.must_refund
    assert order.status == "paid" and order.cancel_reason is None and not order.needs_attention
    stock = level(db_session, variant.id)
    assert (stock.on_hand, stock.reserved) == (3, 0) and ledger_sum(db_session, variant.id) == 3
    assert len(confirmations(db_session, order.id)) == 1


def test_a_late_payment_without_stock_is_flagged_for_a_refund(db_session):
    variant = make_variant(db_session, stock=3)
    order = place_order(db_session, [(variant, 2)]).order
    orders.release_expired(session=db_session, order_id=order.id)
    place_order(db_session, [(variant, 2)])  # someone else takes the units meanwhile
    result = orders.mark_paid(session=db_session, order_id=order.id,
                              amount_received=order.amount_due, reference="pi_too_late")
    assert result.changed and result.must_refund
    assert order.status == "cancelled" and order.needs_attention
    assert order.attention_reason == "paid_after_expiry_out_of_stock" and order.paid_at
    assert sales(db_session, order.id) == [] and confirmations(db_session, order.id) == []
    assert (level(db_session, variant.id).on_hand, level(db_session, variant.id).reserved) == (3, 2)
    again = orders.mark_paid(session=db_session, order_id=order.id,
                             amount_received=order.amount_due, reference="pi_too_late")
    assert not again.changed and not again.must_refund


def test_sell_reserved_refuses_more_than_was_reserved(db_session):
    variant = make_variant(db_session, stock=5)
    inventory.reserve(session=db_session, variant_id=variant.id, quantity=1)
    with pytest.raises(Exception) as refused:
        inventory.sell_reserved(session=db_session, variant_id=variant.id, quantity=2, order_id=1)
    assert getattr(refused.value, "code", "") == "reservation_mismatch"
    assert (level(db_session, variant.id).on_hand, level(db_session, variant.id).reserved) == (5, 1)


def test_due_for_expiry_finds_only_pending_orders_past_their_time(db_session):
    variant = make_variant(db_session, stock=10)
    past = utcnow() - timedelta(hours=1)
    expired = place_order(db_session, [(variant, 1)], now=past).order
    fresh = place_order(db_session, [(variant, 1)]).order
    paid = place_order(db_session, [(variant, 1)], now=past).order
    orders.mark_paid(session=db_session, order_id=paid.id, amount_received=paid.amount_due,
                     reference="pi_x")
    due = orders.due_for_expiry(session=db_session, now=utcnow(), limit=500)
    ids = {order.id for order in due}
    assert expired.id in ids and fresh.id not in ids and paid.id not in ids


def test_pending_for_reconciliation_is_oldest_first_and_pending_only(db_session):
    variant = make_variant(db_session, stock=10)
    first = place_order(db_session, [(variant, 1)]).order
    second = place_order(db_session, [(variant, 1)]).order
    first.created_at = utcnow() - timedelta(minutes=30)
    second.created_at = utcnow() - timedelta(minutes=20)
    db_session.flush()
    found = orders.pending_for_reconciliation(
        session=db_session, older_than=utcnow() - timedelta(minutes=10), limit=500)
    ids = [order.id for order in found]
    assert ids.index(first.id) < ids.index(second.id)
    orders.release_expired(session=db_session, order_id=first.id)
    found = orders.pending_for_reconciliation(
        session=db_session, older_than=utcnow() - timedelta(minutes=10), limit=500)
    assert first.id not in {order.id for order in found}


def test_refunds_are_recorded_and_hooks_told_the_amount(db_session, monkeypatch):
    seen = []
    monkeypatch.setattr(orders, "on_refund",
                        [lambda *, session, order, amount: seen.append((order.id, amount))])
    order = place_order(db_session, [(make_variant(db_session, price=3000), 1)]).order
    orders.mark_paid(session=db_session, order_id=order.id, amount_received=order.amount_due,
                     reference="pi_r")
    orders.record_refund(session=db_session, order_id=order.id, amount=1000, reference="re_1")
    assert seen == [(order.id, 1000)] and order.events[-1].type == "refunded"


def test_only_the_owner_or_the_token_holder_sees_an_order(db_session):
    owner, stranger = make_user(db_session), make_user(db_session)
    variant = make_variant(db_session, stock=10)
    mine = place_order(db_session, [(variant, 1)], user=owner).order
    guest = place_order(db_session, [(variant, 1)])
    view = orders.get_order_for_viewer
    assert view(session=db_session, order_id=mine.id, user=owner, access_token=None) is mine
    assert view(session=db_session, order_id=guest.order.id, user=None,
                access_token=guest.access_token) is guest.order
    for user, order_id, token in [(stranger, mine.id, None), (None, mine.id, None),
                                  (None, guest.order.id, "wrong"), (stranger, guest.order.id, None),
                                  (owner, 10**9, None)]:
        with pytest.raises(NotFound):
            view(session=db_session, order_id=order_id, user=user, access_token=token)
