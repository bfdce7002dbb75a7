"""The worker purges abandoned guest carts and keeps everything else."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from shop.carts import jobs
from shop.carts.models import Cart, CartItem
from shop.db import utcnow
from shop.orders.models import Order
from shop.worker import load_jobs
from tests.carts.factories import make_cart, make_variant, place_order
from tests.fixtures.auth import make_user


def age(session, cart: Cart, days: int) -> None:
    cart.updated_at = utcnow() - timedelta(days=days)
    session.flush()


def test_the_purge_job_is_registered_with_the_worker():
    assert load_jobs()["purge_abandoned_carts"].fn is jobs.purge_abandoned_carts


def test_old_guest_carts_go_recent_and_customer_carts_stay(db_session):
    variant = make_variant(db_session, stock=10)
    old_guest = make_cart(db_session, [(variant, 1)])
    recent_guest = make_cart(db_session, [(variant, 1)])
    customer_cart = make_cart(db_session, [(variant, 1)], user=make_user(db_session))
    age(db_session, old_guest, 31)
    age(db_session, recent_guest, 29)
    age(db_session, customer_cart, 90)
    old_id = old_guest.id
    purged = jobs.purge_abandoned_carts(session=db_session, now=utcnow())
    db_session.expire_all()
    assert purged >= 1
    assert db_session.get(Cart, old_id) is None
    assert db_session.scalars(select(CartItem).where(CartItem.cart_id == old_id)).all() == []
    assert db_session.get(Cart, recent_guest.id) is not None
    assert db_session.get(Cart, customer_cart.id) is not None


def test_purging_a_checked_out_cart_keeps_its_order(db_session):
    order = place_order(db_session, [(make_variant(db_session), 1)]).order
    cart = db_session.get(Cart, order.cart_id)
    age(db_session, cart, 45)
    order_id = order.id
    jobs.purge_abandoned_carts(session=db_session, now=utcnow())
    db_session.expire_all()
    kept = db_session.get(Order, order_id)
    assert kept is not None and kept.cart_id is None and len(kept.lines) == 1
