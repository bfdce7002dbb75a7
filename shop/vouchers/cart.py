"""What carts ask of the vouchers domain: voucher lines (one per voucher, with who it is for
and a custom amount) and the summary of the money vouchers applied to a cart.

Vouchers pay for goods and shipping, not for other vouchers (a voucher bought with a voucher
would only roll its expiry forward). A cart keeps a reference to each applied voucher, never
its code; the cart view shows the last four characters.
"""

from __future__ import annotations

from datetime import date, datetime
from functools import cache

from flask import current_app
from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import Session, object_session

from shop.carts.models import Cart, CartItem
from shop.catalogue.models import Variant
from shop.db import utcnow
from shop.errors import ValidationFailed
from shop.money import Money
from shop.payments import services as payments
from shop.vouchers import delivery, holds, services
from shop.vouchers.models import CartVoucher, Voucher, VoucherLineDetails


def _check_amount(variant: Variant, amount: Money | None) -> int | None:
    if not variant.voucher_custom_amount:
        if amount is not None:
            raise ValidationFailed("This voucher has a fixed value.", code="amount_not_allowed",
                                   errors={"amount": ["Only the custom-amount voucher takes one."]})
        return None
    low, high = current_app.config["MONEY_VOUCHER_MIN"], current_app.config["MONEY_VOUCHER_MAX"]
    if amount is None or amount.currency != variant.currency or not low <= amount.amount <= high:
        raise ValidationFailed(
            "Choose an amount for the voucher.", code="voucher_amount_out_of_range",
            errors={"amount": [f"Between {low} and {high} (minor units of {variant.currency})."]},
        )
    return amount.amount


def _check_send_on(send_on: date | None, now: datetime) -> None:
    if not delivery.send_on_allowed(send_on, now):
        raise ValidationFailed("Pick a delivery date from today to a year ahead.", errors={
            "voucher": {"send_on": ["Must be today or later, at most a year ahead."]}})


def add_to_cart(
    *, session: Session, cart: Cart, variant: Variant, quantity: int, voucher: dict | None,
    amount: Money | None, now: datetime | None = None,
) -> CartItem:
    """One cart line per voucher: each has its own recipient, message and delivery date."""
    if variant.voucher_kind is None:
        field = "voucher" if voucher is not None else "amount"
        raise ValidationFailed("Only gift vouchers take voucher details or an amount.",
                               errors={field: ["Not for this SKU: it is not a gift voucher."]})
    if quantity != 1:
        raise ValidationFailed("Add gift vouchers one at a time.", code="voucher_quantity",
                               errors={"quantity": ["Must be 1: each voucher is its own line."]})
    value = _check_amount(variant, amount)
    details = voucher or {}
    _check_send_on(details.get("send_on"), now or utcnow())
    item = CartItem(variant=variant, quantity=1)
    item.voucher_details = VoucherLineDetails(
        recipient_name=details.get("recipient_name") or "",
        recipient_email=details.get("recipient_email") or None,
        message=details.get("message") or "", send_on=details.get("send_on"), amount=value,
    )
    cart.items.append(item)
    session.flush()
    return item


def refuse_quantity_change(item: CartItem, quantity: int) -> None:
    if item.variant.voucher_kind is not None and quantity != 1:
        raise ValidationFailed("A gift voucher line is always for one voucher.",
                               code="voucher_quantity", errors={"quantity": ["Must be 1."]})


def line_fields(item: CartItem, standard_vat_rate: int) -> dict:
    """How a voucher line prices: its own amount, no shipping, no stock, VAT by kind."""
    variant = item.variant
    details = item.voucher_details
    price = details.amount if details is not None and details.amount is not None else None
    return {
        "unit_price": Money(price if price is not None else variant.price_amount,
                            variant.currency),
        "ships": False, "tracks_stock": False, "kind": "voucher",
        "vat_rate": services.voucher_vat_rate(variant=variant, standard_rate=standard_vat_rate),
    }


@cache  # built once, on first use (the mappers are configured by then): every cart view runs it
def _applied_statement() -> Select:
    return (
        select(Voucher).join(CartVoucher, CartVoucher.voucher_id == Voucher.id)
        .where(CartVoucher.cart_id == bindparam("cart_id")).order_by(CartVoucher.id)
    )


def applied(session: Session, cart: Cart) -> list[Voucher]:
    """The vouchers applied to the cart, in the order they were applied. No query when the
    statement that read the cart's items (after the cart's lock, in a change) saw none."""
    if cart.vouchers_applied is False:
        return []
    return list(session.scalars(_applied_statement(), {"cart_id": cart.id}))


def coverable(total: Money, voucher_lines_total: int) -> int:
    """What vouchers may pay of an order: everything but the vouchers it buys."""
    return max(total.amount - voucher_lines_total, 0)


def payable_by_vouchers(total: Money, voucher_lines_total: int, available: int) -> int:
    """How much of an order the vouchers pay: all they can, except that what is left for the
    card is never a positive amount below the minimum Stripe will charge."""
    share = min(coverable(total, voucher_lines_total), available)
    floor = payments.minimum_charge(total.currency)
    if 0 < total.amount - share < floor:
        share = max(total.amount - floor, 0)
    return share


def cart_summary(cart: Cart, priced) -> dict:
    """The cart view's `vouchers`: each applied voucher, what it would pay, what is left due."""
    session = object_session(cart)
    now = utcnow()
    voucher_lines = sum(p.line_total.amount for p in priced.lines if p.line.kind == "voucher")
    vouchers = applied(session, cart) if session is not None else []
    usable_ids = {v.id for v in vouchers if holds.usable_for_payment(v, priced.currency, now)}
    remaining = payable_by_vouchers(
        priced.total, voucher_lines, sum(v.available.amount for v in vouchers if v.id in usable_ids)
    )
    rows, covered = [], 0
    for voucher in vouchers:
        usable = voucher.id in usable_ids
        share = min(voucher.available.amount, remaining) if usable else 0
        remaining -= share
        covered += share
        rows.append({"code_last4": voucher.code_last4, "balance": voucher.available,
                     "applies": Money(share, priced.currency), "usable": usable})
    return {"applied": rows, "covered": Money(covered, priced.currency),
            "amount_due": Money(priced.total.amount - covered, priced.currency)}


def move_applied(*, session: Session, source: Cart, target: Cart) -> None:
    """A guest cart merged into a customer's: its applied vouchers come along."""
    already = {voucher.id for voucher in applied(session, target)}
    for row in session.scalars(select(CartVoucher).where(CartVoucher.cart_id == source.id)):
        if row.voucher_id in already:
            session.delete(row)
        else:
            row.cart_id = target.id
            target.vouchers_applied = True
    session.flush()
