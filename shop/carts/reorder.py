"""Buy again: a past order's products put back into a cart, at today's prices and within
today's stock (skincare runs out every month or two, and the routine stays the same)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from shop.accounts.models import User
from shop.carts import services
from shop.carts.models import Cart
from shop.errors import Conflict, ValidationFailed
from shop.orders.models import Order


@dataclass
class Reordered:
    cart: Cart
    created: bool  # a new cart, or the customer's open one
    added: list[dict] = field(default_factory=list)  # {sku, quantity}
    skipped: list[dict] = field(default_factory=list)  # {sku, name, quantity, reason}


def reorder(*, session: Session, order: Order, user: User | None) -> Reordered:
    """Add each product of the order to the customer's open cart (a new one for a guest).

    What cannot be added as it was is skipped with a reason instead of failing the rest:
    `unavailable` (no longer sold), `insufficient_stock` (the quantity that is left is added),
    `out_of_stock`, `quantity_limit_exceeded`, `cart_full`, and `gift_voucher` for vouchers
    bought (each was for one recipient)."""
    cart, created = services.create_cart(session=session, user=user)
    result = Reordered(cart=cart, created=created)
    names = {line.sku: line.name for line in order.lines}
    wanted: Counter[str] = Counter()
    for line in order.lines:
        if line.kind == "product":
            wanted[line.sku] += line.quantity
        else:
            result.skipped.append(_skip(line.sku, line.name, line.quantity, "gift_voucher"))
    for sku, quantity in wanted.items():
        _add(session, result, user, sku, names[sku], quantity)
    result.cart = services.get_cart(session=session, cart_id=cart.id, user=user)
    return result


def _add(session: Session, result: Reordered, user: User | None, sku: str, name: str,
         quantity: int) -> None:
    try:
        services.add_item(session=session, cart_id=result.cart.id, user=user, sku=sku,
                          quantity=quantity)
    except (Conflict, ValidationFailed) as refused:
        reason = "unavailable" if refused.code in ("sku_not_found", "product_unavailable") \
            else refused.code
        available = refused.extra.get("available", 0)
        if reason == "insufficient_stock" and available > 0:
            _add_what_is_left(session, result, user, sku, name, quantity, available)
            return
        if reason == "insufficient_stock":
            reason = "out_of_stock"
        result.skipped.append(_skip(sku, name, quantity, reason))
        return
    result.added.append({"sku": sku, "quantity": quantity})


def _add_what_is_left(session: Session, result: Reordered, user: User | None, sku: str,
                      name: str, quantity: int, available: int) -> None:
    """Available counts what the cart already holds of it too: add only what is still free."""
    in_cart = next((item.quantity for item in result.cart.items if item.variant.sku == sku), 0)
    extra = available - in_cart
    if extra > 0:
        services.add_item(session=session, cart_id=result.cart.id, user=user, sku=sku,
                          quantity=extra)
        result.added.append({"sku": sku, "quantity": extra})
    result.skipped.append(_skip(sku, name, quantity - max(extra, 0), "insufficient_stock"))


def _skip(sku: str, name: str, quantity: int, reason: str) -> dict:
    return {"sku": sku, "name": name, "quantity": quantity, "reason": reason}
