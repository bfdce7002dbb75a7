"""Checkout at the service level: the order snapshot, the reservation, the refusals."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import bindparam, select, update

from shop.accounts.auth import hash_token
from shop.carts import services as carts
from shop.carts.models import Cart
from shop.catalogue.models import Product
from shop.checkout import services as checkout
from shop.db import as_utc, utcnow
from shop.errors import Conflict, ValidationFailed
from shop.inventory import services as inventory
from shop.inventory.models import StockMovement
from shop.notifications.models import OutboxEmail
from shop.orders.models import StockReservation
from tests.carts.factories import ADDRESS, ledger_sum, level, make_cart, make_variant, place_order
from tests.fixtures.auth import make_user


def test_checkout_snapshots_the_cart_into_a_pending_order(db_session):
    serum = make_variant(db_session, price=2500, stock=5)
    brush = make_variant(db_session, price=999)
    now = utcnow()
    placed = place_order(db_session, [(serum, 2), (brush, 1)], now=now)
    order = placed.order
    assert order.status == "pending_payment" and order.number == f"GLW-{10000 + order.id}"
    assert [(line.sku, line.quantity, line.unit_price_amount, line.vat_amount)
            for line in order.lines] == [(serum.sku, 2, 2500, 833), (brush.sku, 1, 999, 167)]
    assert order.lines[0].name == f"{serum.product.name} - 30 ml"
    assert (order.subtotal_amount, order.shipping_amount, order.total_amount) == (5999, 0, 5999)
    assert order.amount_due == order.total_amount and order.vat_amount == 1000
    assert order.vat_breakdown == [{"rate": 20, "amount": 1000}]
    assert order.shipping_method == "uk-standard" and order.shipping_address == ADDRESS
    assert order.email == "guest@example.com" and order.user_id is None
    assert as_utc(order.reservation_expires_at) == now + timedelta(minutes=15)
    assert [event.type for event in order.events] == ["placed"]
    assert db_session.get(Cart, order.cart_id).status == "checked_out"


def test_checkout_reserves_stock_without_touching_the_ledger(db_session):
    variant = make_variant(db_session, stock=5)
    order = place_order(db_session, [(variant, 3)]).order
    stock = level(db_session, variant.id)
    assert (stock.on_hand, stock.reserved, stock.available) == (5, 3, 2)
    assert ledger_sum(db_session, variant.id) == 5
    [reservation] = order.reservations
    assert (reservation.variant_id, reservation.quantity, reservation.status) == (
        variant.id, 3, "active")


def test_a_guest_gets_an_access_token_stored_only_hashed(db_session):
    placed = place_order(db_session, [(make_variant(db_session), 1)])
    assert placed.access_token and len(placed.access_token) >= 32
    assert placed.order.access_token_hash == hash_token(placed.access_token)


def test_a_customer_order_uses_the_account_email_and_gets_no_token(db_session):
    user = make_user(db_session)
    placed = place_order(db_session, [(make_variant(db_session), 1)], user=user)
    assert placed.order.user_id == user.id and placed.order.email == user.email
    assert placed.access_token is None and placed.order.access_token_hash is None


def test_order_numbers_are_unique_and_follow_the_id(db_session):
    variant = make_variant(db_session, stock=10)
    numbers = [place_order(db_session, [(variant, 1)]).order.number for _ in range(3)]
    assert len(set(numbers)) == 3 and all(n.startswith("GLW-1") for n in numbers)


def test_a_cart_with_flagged_lines_is_refused(db_session):
    variant = make_variant(db_session, stock=5)
    cart = make_cart(db_session, [(variant, 4)])
    inventory.record_movement(session=db_session, variant_id=variant.id, quantity=-2,
                              reason="damaged")
    with pytest.raises(Conflict) as refused:
        checkout.place_order(session=db_session, cart_id=cart.id, user=None, email="a@b.example",
                             shipping_method="click-and-collect")
    assert refused.value.code == "cart_not_purchasable"
    assert refused.value.extra["items"][0]["problems"] == ["insufficient_stock"]


def test_an_inactive_product_blocks_checkout(db_session):
    variant = make_variant(db_session)
    cart = make_cart(db_session, [(variant, 1)])
    db_session.get(Product, variant.product_id).status = "archived"
    with pytest.raises(Conflict) as refused:
        checkout.place_order(session=db_session, cart_id=cart.id, user=None, email="a@b.example",
                             shipping_method="click-and-collect")
    assert refused.value.extra["items"][0]["problems"] == ["unavailable"]


def test_a_cart_the_marking_update_missed_is_checked_out_after_its_lock(db_session,
                                                                        monkeypatch):
    """Checkout marks the cart checked out with its first statement. If that UPDATE finds the
    cart not open and the locking read after it finds it open (a checkout whose payment failed
    reopened it meanwhile), the cart is checked out all the same."""
    table = Cart.__table__
    monkeypatch.setattr(carts, "CHECK_OUT", select(Cart).from_statement(
        update(table).where(table.c.id == bindparam("cart_id"), table.c.status == "reopening")
        .values(updated_at=bindparam("now")).returning(*table.c)))
    variant = make_variant(db_session, stock=5)
    order = place_order(db_session, [(variant, 1)]).order
    assert db_session.get(Cart, order.cart_id).status == "checked_out"
    assert level(db_session, variant.id).reserved == 1


def test_an_empty_cart_cannot_be_checked_out(db_session):
    cart = make_cart(db_session, [])
    with pytest.raises(Conflict) as refused:
        checkout.place_order(session=db_session, cart_id=cart.id, user=None, email="a@b.example",
                             shipping_method="uk-standard", shipping_address=ADDRESS)
    assert refused.value.code == "cart_empty"


def test_a_checked_out_cart_cannot_be_checked_out_again(db_session):
    variant = make_variant(db_session, stock=5)
    cart_id = place_order(db_session, [(variant, 1)]).order.cart_id
    with pytest.raises(Conflict) as refused:
        checkout.place_order(session=db_session, cart_id=cart_id, user=None, email="a@b.example",
                             shipping_method="uk-standard", shipping_address=ADDRESS)
    assert refused.value.code == "cart_not_open"
    assert level(db_session, variant.id).reserved == 1


@pytest.mark.parametrize(
    ("method", "address", "code"),
    [(None, ADDRESS, "shipping_method_required"),
     ("uk-next-day", None, "shipping_address_required"),
     ("drone", ADDRESS, "unknown_shipping_method")],
)
def test_delivery_details_are_checked(db_session, method, address, code):
    cart = make_cart(db_session, [(make_variant(db_session), 1)])
    with pytest.raises(ValidationFailed) as refused:
        checkout.place_order(session=db_session, cart_id=cart.id, user=None, email="a@b.example",
                             shipping_method=method, shipping_address=address)
    assert refused.value.code == code


def test_click_and_collect_needs_no_address_and_keeps_none(db_session):
    cart = make_cart(db_session, [(make_variant(db_session, price=1000), 1)])
    placed = checkout.place_order(
        session=db_session, cart_id=cart.id, user=None, email="a@b.example",
        shipping_method="click-and-collect", shipping_address=ADDRESS,
    )
    assert placed.order.shipping_address is None and placed.order.shipping_amount == 0


def test_a_guest_must_give_an_email(db_session):
    cart = make_cart(db_session, [(make_variant(db_session), 1)])
    with pytest.raises(ValidationFailed) as refused:
        checkout.place_order(session=db_session, cart_id=cart.id, user=None, email=None,
                             shipping_method="click-and-collect")
    assert "email" in refused.value.errors


def test_reserve_refuses_more_than_is_available_and_changes_nothing(db_session):
    variant = make_variant(db_session, stock=2)
    with pytest.raises(Conflict) as refused:
        inventory.reserve(session=db_session, variant_id=variant.id, quantity=3)
    assert refused.value.code == "insufficient_stock" and refused.value.extra["sku"] == variant.sku
    assert level(db_session, variant.id).reserved == 0


def test_order_placed_hooks_run_in_the_checkout_transaction(db_session, monkeypatch):
    seen = []
    monkeypatch.setattr(checkout, "on_order_placed", [
        lambda *, session, order, cart: seen.append((order.number, cart.status, len(order.lines)))
    ])
    order = place_order(db_session, [(make_variant(db_session), 2)]).order
    assert seen == [(order.number, "checked_out", 1)]


def test_an_order_with_nothing_to_pay_is_paid_at_once(db_session):
    sample = make_variant(db_session, price=0, stock=4)
    order = place_order(db_session, [(sample, 1)], shipping_method="click-and-collect").order
    assert order.status == "paid" and order.paid_at is not None and order.amount_due == 0
    stock = level(db_session, sample.id)
    assert (stock.on_hand, stock.reserved) == (3, 0) == (ledger_sum(db_session, sample.id), 0)
    [reservation] = db_session.scalars(
        select(StockReservation).where(StockReservation.order_id == order.id))
    assert reservation.status == "converted"
    sale = db_session.scalars(select(StockMovement).where(StockMovement.order_id == order.id)).one()
    assert (sale.reason, sale.quantity) == ("sale", -1)
    email = db_session.scalars(
        select(OutboxEmail).where(OutboxEmail.dedupe_key == f"order-confirmation:{order.id}")
    ).one()
    assert email.to == "guest@example.com" and order.number in email.subject
