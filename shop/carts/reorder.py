"""Buy again: a past order's products put back into a cart, at today's prices and within
today's stock (skincare runs out every month or two, and the routine stays the same)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from flask import current_app
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
    `unavailable` (no longer sold), `insufficient_stock` (what is left is added),
    `out_of_stock`, `quantity_limit_exceeded` (what fits is added), `cart_full`, and
    `gift_voucher` for vouchers bought (each was for one recipient)."""
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
    """Add the whole quantity; refused for stock or the per-line limit, add what still fits
    (once) and skip the rest with the reason."""
    refused = _try_add(session, result, user, sku, quantity)
    if refused is None:
        result.added.append({"sku": sku, "quantity": quantity})
        return
    room = _room(refused, result.cart, sku)
    if room > 0 and _try_add(session, result, user, sku, room) is None:
        result.added.append({"sku": sku, "quantity": room})
        result.skipped.append(_skip(sku, name, quantity - room, _reason(refused)))
        return
    reason = _reason(refused)
    if reason == "insufficient_stock" and not refused.extra.get("available"):
        reason = "out_of_stock"
    result.skipped.append(_skip(sku, name, quantity, reason))


def _try_add(session: Session, result: Reordered, user: User | None, sku: str,
             quantity: int) -> Conflict | ValidationFailed | None:
    try:
        services.add_item(session=session, cart_id=result.cart.id, user=user, sku=sku,
                          quantity=quantity)
    except (Conflict, ValidationFailed) as refused:
        return refused
    return None


def _room(refused: Conflict | ValidationFailed, cart: Cart, sku: str) -> int:
    """How many more of the SKU the cart can take, by what refused the whole quantity (both
    limits count what the cart holds already)."""
    in_cart = next((item.quantity for item in cart.items if item.variant.sku == sku), 0)
    if refused.code == "insufficient_stock":
        return refused.extra.get("available", 0) - in_cart
    if refused.code == "quantity_limit_exceeded":
        return current_app.config["CART_LINE_MAX_QUANTITY"] - in_cart
    return 0


def _reason(refused: Conflict | ValidationFailed) -> str:
    if refused.code in ("sku_not_found", "product_unavailable"):
        return "unavailable"
    return refused.code


def _skip(sku: str, name: str, quantity: int, reason: str) -> dict:
    return {"sku": sku, "name": name, "quantity": quantity, "reason": reason}
