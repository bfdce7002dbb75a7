"""insert_now and update_now: Core writes that leave the session as a flush would."""

import pytest
from sqlalchemy import inspect, select, text
from sqlalchemy.orm.exc import StaleDataError

from shop.carts.models import Cart
from shop.carts.services import new_cart_id
from shop.db import insert_now, insert_once, is_postgresql, update_now, utcnow
from shop.orders.models import Order, OrderEvent, OrderLine
from shop.payments.models import StripeEvent


def _order(**overrides) -> Order:
    values = dict(email="a@example.com", currency="GBP",
                  subtotal_amount=1000, vat_amount=167, total_amount=1000, amount_due=1000)
    return Order(**{**values, **overrides})


def _line(order_id: int, sku: str) -> OrderLine:
    return OrderLine(order_id=order_id, sku=sku, name=sku, unit_price_amount=500, quantity=2,
                     line_total_amount=1000, vat_rate=20, vat_amount=167)


def test_insert_now_reads_back_the_key_and_defaults_and_needs_no_flush(
    db_session, count_queries
):
    order = _order()
    db_session.execute(text("SELECT 1"))  # (the test's savepoint begins here)
    count_queries.count = 0
    insert_now(db_session, order)
    assert count_queries.count == 1  # the INSERT ... RETURNING, nothing else
    state = inspect(order)
    assert state.persistent and not state.modified and not state.expired_attributes
    assert order.id is not None and order.status == "pending_payment"
    assert order.created_at is not None and order.vat_breakdown == []
    assert db_session.get(Order, order.id) is order  # in the identity map
    assert not (db_session.new or db_session.dirty)
    assert count_queries.count == 1
    stored = db_session.execute(
        text("SELECT number, status, amount_due FROM orders WHERE id = :id"), {"id": order.id}
    ).one()
    assert tuple(stored) == (order.number, "pending_payment", 1000)


def test_insert_now_writes_several_rows_in_one_statement_in_their_order(
    db_session, count_queries
):
    order = _order()
    insert_now(db_session, order)
    lines = [_line(order.id, sku) for sku in ("A", "B", "C", "D")]
    count_queries.count = 0
    insert_now(db_session, *lines)
    if is_postgresql(db_session):  # (SQLite's driver runs one INSERT per row)
        assert count_queries.count == 1
    ids = [line.id for line in lines]
    assert ids == sorted(ids) and len(set(ids)) == 4
    stored = dict(db_session.execute(
        select(OrderLine.id, OrderLine.sku).where(OrderLine.order_id == order.id)).all())
    assert stored == {line.id: line.sku for line in lines}


def test_insert_now_refuses_objects_with_different_attributes_set(db_session):
    order = _order()
    insert_now(db_session, order)
    with_kind = _line(order.id, "A")
    with_kind.kind = "voucher"
    with pytest.raises(ValueError, match="same attributes"):
        insert_now(db_session, _line(order.id, "B"), with_kind)


def test_new_rows_are_rolled_back_with_the_transaction(db_session):
    nested = db_session.begin_nested()
    order = _order()
    insert_now(db_session, order)
    insert_now(db_session, OrderEvent(order_id=order.id, type="placed", data={}))
    order_id = order.id
    nested.rollback()
    assert db_session.scalar(select(Order.id).where(Order.id == order_id)) is None


def test_insert_once_inserts_unless_the_unique_values_exist(db_session, count_queries):
    first = StripeEvent(event_id="evt_once", type="first")
    db_session.execute(text("SELECT 1"))  # (the test's savepoint begins here)
    count_queries.count = 0
    assert insert_once(db_session, first, unless_exists=("event_id",)) is True
    assert count_queries.count == 1
    assert inspect(first).persistent and first.id is not None and first.received_at is not None
    again = StripeEvent(event_id="evt_once", type="again")
    assert insert_once(db_session, again, unless_exists=("event_id",)) is False
    assert count_queries.count == 2  # the one INSERT ... ON CONFLICT DO NOTHING, no savepoint
    assert inspect(again).transient and again.id is None
    types = db_session.scalars(
        select(StripeEvent.type).where(StripeEvent.event_id == "evt_once")).all()
    assert types == ["first"]


def test_update_now_records_the_change_as_loaded_and_reads_back_onupdate(
    db_session, count_queries
):
    order = _order()
    insert_now(db_session, order)
    before = order.updated_at
    count_queries.count = 0
    update_now(db_session, order, email="sk@example.com", amount_due=0)
    assert count_queries.count == 1  # UPDATE ... RETURNING updated_at
    assert (order.email, order.amount_due) == ("sk@example.com", 0)
    assert order.updated_at >= before
    assert not inspect(order).modified and not db_session.dirty
    stored = db_session.execute(
        text("SELECT email, amount_due FROM orders WHERE id = :id"), {"id": order.id}).one()
    assert tuple(stored) == ("sk@example.com", 0)


def test_update_now_flushes_what_is_pending_first(db_session):
    cart = Cart(id=new_cart_id(), status="open", items=[])
    db_session.add(cart)
    db_session.flush()
    cart.status = "merged"  # pending
    update_now(db_session, cart, updated_at=utcnow())
    assert not inspect(cart).modified and not db_session.dirty
    stored = db_session.execute(
        text("SELECT status, updated_at FROM carts WHERE id = :id"), {"id": cart.id}).one()
    assert stored.status == "merged"


def test_update_now_of_a_vanished_row_raises_stale_data(db_session):
    cart = Cart(id=new_cart_id(), status="open", items=[])
    db_session.add(cart)
    db_session.flush()
    db_session.execute(text("DELETE FROM carts WHERE id = :id"), {"id": cart.id})
    with pytest.raises(StaleDataError):
        update_now(db_session, cart, status="checked_out")
