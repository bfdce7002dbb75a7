"""Checkout: one transaction turns an open cart into a pending order holding its stock.

The cart row is locked first, then stock rows in variant order; a shortage anywhere raises
Conflict and the caller rolls the whole transaction back, so a failed checkout holds nothing.
The Stripe call happens later, after commit, outside every lock (see routes.py).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from shop.accounts.auth import hash_token
from shop.accounts.models import User
from shop.carts import pricing
from shop.carts import services as carts
from shop.carts.models import Cart
from shop.checkout import shipping
from shop.db import insert_now, utcnow
from shop.errors import Conflict, ValidationFailed
from shop.orders import services as orders
from shop.orders.models import Order, OrderLine

# fn(*, session, order, cart) -> None, run after the order holds its stock and before the
# amount due is final (vouchers place their holds here and lower order.amount_due).
on_order_placed: list[Callable[..., None]] = []


@dataclass(frozen=True)
class PlacedOrder:
    order: Order
    access_token: str | None  # only for guests: their key to GET /orders/{id}


def _delivery(
    priced: pricing.PricedCart, method_code: str | None, address: dict | None
) -> tuple[shipping.ShippingMethod | None, dict | None]:
    if not priced.requires_shipping:
        return None, None
    if not method_code:
        raise ValidationFailed(
            "Choose a shipping method.", code="shipping_method_required",
            errors={"shipping_method": ["Required: this cart has items to deliver."]},
        )
    method = shipping.get_method(method_code)
    if not method.requires_address:
        return method, None
    if not address:
        raise ValidationFailed(
            "A delivery address is needed.", code="shipping_address_required",
            errors={"shipping_address": [f"Required for {method.name.lower()}."]},
        )
    return method, address


def _check_purchasable(priced: pricing.PricedCart) -> None:
    if not priced.lines:
        raise Conflict("The cart is empty.", code="cart_empty")
    if not priced.purchasable:
        raise Conflict(
            "Some items cannot be bought as they are; see items.", code="cart_not_purchasable",
            items=[
                {"item_id": p.line.item_id, "sku": p.line.sku, "problems": list(p.problems)}
                for p in priced.lines if p.problems
            ],
        )


def _new_order(
    cart: Cart, priced: pricing.PricedCart, *, user: User | None, email: str,
    method: shipping.ShippingMethod | None, address: dict | None, expires_at: datetime,
    access_token_hash: str | None,
) -> Order:
    return Order(
        status="pending_payment", email=email,
        user_id=user.id if user else None, cart_id=cart.id, currency=priced.currency,
        subtotal_amount=priced.subtotal.amount, shipping_amount=priced.shipping.amount,
        discount_amount=priced.discount.amount, vat_amount=priced.vat.amount,
        discount_code=priced.discounts[0].code if priced.discount.amount else None,
        vat_breakdown=[{"rate": v.rate, "amount": v.amount.amount} for v in priced.vat_breakdown],
        total_amount=priced.total.amount, amount_due=priced.total.amount,
        shipping_method=method.code if method else None, shipping_address=address,
        reservation_expires_at=expires_at, access_token_hash=access_token_hash,
    )


def _new_lines(priced: pricing.PricedCart, order_id: int) -> list[OrderLine]:
    return [
        OrderLine(
            order_id=order_id, variant_id=p.line.variant_id, kind=p.line.kind, sku=p.line.sku,
            name=p.line.name, unit_price_amount=p.line.unit_price.amount,
            quantity=p.line.quantity, line_total_amount=p.line_total.amount,
            vat_rate=p.vat.rate, vat_amount=p.vat.amount.amount,
        )
        for p in priced.lines
    ]


def _insert_order(session: Session, order: Order, priced: pricing.PricedCart) -> None:
    """The order, its lines and its `placed` event: three INSERTs, no unit of work."""
    insert_now(session, order)
    lines = _new_lines(priced, order.id)
    insert_now(session, *lines)
    placed = orders.new_event(order.id, "placed", total=order.total_amount)
    insert_now(session, placed)
    set_committed_value(order, "lines", lines)
    set_committed_value(order, "events", [placed])
    set_committed_value(order, "reservations", [])


def place_order(
    *,
    session: Session,
    cart_id: str,
    user: User | None,
    email: str | None,
    shipping_method: str | None = None,
    shipping_address: dict | None = None,
    now: datetime | None = None,
) -> PlacedOrder:
    """Lock the cart, snapshot it into a pending order and reserve its stock."""
    cart = carts.check_out(session=session, cart_id=cart_id, user=user)
    priced = carts.price(cart, shipping_method)
    _check_purchasable(priced)
    method, address = _delivery(priced, shipping_method, shipping_address)
    email = email or (user.email if user else None)
    if not email:
        raise ValidationFailed("An email address is needed.", errors={"email": ["Required."]})
    # Everything the order row needs is known before its INSERT (one statement, not three)
    expires_at = (now or utcnow()) + timedelta(minutes=current_app.config["RESERVATION_MINUTES"])
    token = None if user else secrets.token_urlsafe(32)
    order = _new_order(cart, priced, user=user, email=email, method=method, address=address,
                       expires_at=expires_at,
                       access_token_hash=hash_token(token) if token else None)
    _insert_order(session, order, priced)
    orders.reserve_stock(session=session, order=order, expires_at=expires_at)
    for hook in on_order_placed:
        hook(session=session, order=order, cart=cart)
    session.flush()
    if order.amount_due == 0:
        orders.mark_paid(session=session, order_id=order.id, amount_received=0,
                         reference="nothing-to-pay")
    return PlacedOrder(order, token)
