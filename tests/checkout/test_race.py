"""Concurrent checkouts for the last units: exactly what exists is sold, the rest get a 409."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from shop.carts import services as carts
from shop.carts.models import Cart
from shop.checkout import services as checkout
from shop.errors import Conflict
from shop.extensions import db
from shop.inventory.models import StockLevel
from shop.orders import services as orders
from shop.orders.models import Order, StockReservation
from shop.vouchers import checkout as voucher_checkout
from tests.carts.factories import ledger_sum, make_cart, make_variant
from tests.vouchers.conftest import issue_money

BUYERS, STOCK = 24, 5


@pytest.fixture
def race_app(pooled_app):
    """Its own engine with a connection for every buyer (the default pool holds 20)."""
    return pooled_app(BUYERS + 2)


def setup_carts(app) -> tuple[int, list[str]]:
    with app.app_context():
        variant = make_variant(db.session, stock=STOCK)
        cart_ids = [make_cart(db.session, [(variant, 1)]).id for _ in range(BUYERS)]
        db.session.commit()
        return variant.id, cart_ids


def race(app, cart_ids: list[str]) -> list[str]:
    """Every cart checked out at once, each in its own thread and session."""

    def buy(cart_id: str) -> str:
        with app.app_context():
            try:
                checkout.place_order(session=db.session, cart_id=cart_id, user=None,
                                     email="racer@example.com",
                                     shipping_method="click-and-collect")
                db.session.commit()
                return "ok"
            except Conflict as refused:
                db.session.rollback()
                return refused.code
            finally:
                db.session.remove()

    with ThreadPoolExecutor(max_workers=len(cart_ids)) as pool:
        return list(pool.map(buy, cart_ids))


def assert_ledger_consistent(app, variant_id: int, cart_ids: list[str]) -> None:
    with app.app_context():
        session = db.session
        stock = session.get(StockLevel, variant_id)
        assert (stock.on_hand, stock.reserved) == (STOCK, STOCK)
        assert ledger_sum(session, variant_id) == stock.on_hand
        active = session.scalar(select(func.coalesce(func.sum(StockReservation.quantity), 0))
                                .where(StockReservation.variant_id == variant_id,
                                       StockReservation.status == "active"))
        assert active == STOCK
        assert session.scalar(select(func.count()).select_from(Order)) == STOCK
        statuses = session.scalars(select(Cart.status).where(Cart.id.in_(cart_ids))).all()
        assert statuses.count("checked_out") == STOCK
        assert statuses.count("open") == BUYERS - STOCK
        session.remove()


@pytest.mark.postgresql_only
@pytest.mark.slow
def test_last_units_sell_exactly_once_when_everyone_reserves_at_once(race_app, monkeypatch):
    variant_id, cart_ids = setup_carts(race_app)
    # Every buyer has seen the cart as purchasable before anyone reserves: the conditional
    # UPDATE on the stock row is then the only thing standing between them and overselling.
    everyone_priced = threading.Barrier(BUYERS, timeout=30)
    real_reserve = orders.reserve_stock

    def reserve_together(**kwargs):
        everyone_priced.wait()
        return real_reserve(**kwargs)

    monkeypatch.setattr(orders, "reserve_stock", reserve_together)
    outcomes = race(race_app, cart_ids)
    assert outcomes.count("ok") == STOCK
    assert outcomes.count("insufficient_stock") == BUYERS - STOCK
    assert_ledger_consistent(race_app, variant_id, cart_ids)


@pytest.mark.postgresql_only
@pytest.mark.slow
def test_last_units_sell_exactly_once_under_a_free_for_all(race_app):
    variant_id, cart_ids = setup_carts(race_app)
    outcomes = race(race_app, cart_ids)
    assert outcomes.count("ok") == STOCK
    # Late buyers see the shortage while pricing (cart_not_purchasable) or lose the
    # reservation itself (insufficient_stock): a clean 409 either way.
    assert set(outcomes) <= {"ok", "insufficient_stock", "cart_not_purchasable"}
    assert_ledger_consistent(race_app, variant_id, cart_ids)


def checkout_behind(app, cart_id: str, change: Callable[[], None],
                    read: Callable[[Order], dict]) -> dict:
    """`change` locks the cart and changes it in a session of its own, committed half a second
    later; meanwhile a checkout of the cart waits for the lock. What `read` takes of its order."""
    holding, placed = threading.Event(), {}

    def change_while_holding_the_lock() -> None:
        with app.app_context():
            change()
            db.session.flush()
            holding.set()
            time.sleep(0.5)  # the checkout below is waiting for the cart row now
            db.session.commit()
            db.session.remove()

    def check_out() -> None:
        holding.wait(5)
        with app.app_context():
            order = checkout.place_order(session=db.session, cart_id=cart_id, user=None,
                                         email="waiter@example.com",
                                         shipping_method="click-and-collect").order
            placed.update(read(order))
            db.session.commit()
            db.session.remove()

    threads = [threading.Thread(target=change_while_holding_the_lock),
               threading.Thread(target=check_out)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    return placed


@pytest.mark.postgresql_only
@pytest.mark.slow
def test_a_checkout_waiting_for_the_cart_lock_reads_the_items_as_committed_before_it(race_app):
    """The items are read after the cart row is locked: a change committed while the checkout
    waited for the lock (a quantity raised, a line added) is what the order holds."""
    with race_app.app_context():
        first, second = make_variant(db.session, stock=10), make_variant(db.session, stock=10)
        cart_id = make_cart(db.session, [(first, 1)]).id
        first_id, second_id, second_sku = first.id, second.id, second.sku
        db.session.commit()
        db.session.remove()

    def raise_and_add() -> None:
        cart = carts.lock_open_cart(session=db.session, cart_id=cart_id, user=None)
        cart.items[0].quantity = 3
        carts.add_item(session=db.session, cart_id=cart_id, user=None, sku=second_sku,
                       quantity=2)

    placed = checkout_behind(race_app, cart_id, raise_and_add, lambda order: {
        line.variant_id: line.quantity for line in order.lines})
    assert placed == {first_id: 3, second_id: 2}


@pytest.mark.postgresql_only
@pytest.mark.slow
def test_a_voucher_applied_while_a_checkout_waited_for_the_cart_is_held_by_its_order(race_app):
    """Whether a cart has vouchers is read with its items, after the lock: a voucher applied
    while the checkout waited for the cart row pays its share of the order."""
    with race_app.app_context():
        variant = make_variant(db.session, price=4000, stock=10)
        cart_id = make_cart(db.session, [(variant, 1)]).id
        code = issue_money(db.session, 1000).code
        db.session.commit()
        db.session.remove()
    placed = checkout_behind(
        race_app, cart_id,
        lambda: voucher_checkout.apply_code(session=db.session, cart_id=cart_id, user=None,
                                            code=code),
        lambda order: {"total": order.total_amount, "due": order.amount_due})
    assert placed["due"] == placed["total"] - 1000
