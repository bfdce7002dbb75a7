"""Money vouchers in the web shop: applied to a cart (several may be stacked), held when the
order is placed (the card pays only the rest), captured when paid, released when not; and
the hooks that wire vouchers into checkout, orders and payments.
"""

from __future__ import annotations

from datetime import datetime

from flask import current_app
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from shop.accounts.models import User
from shop.carts import services as carts
from shop.carts.models import Cart
from shop.checkout import services as placing
from shop.db import utcnow
from shop.errors import Conflict, NotFound
from shop.money import Money
from shop.orders import services as orders
from shop.payments import services as payments
from shop.payments.models import Refund
from shop.vouchers import holds, purchases, services, wallet
from shop.vouchers.cart import applied, payable_by_vouchers
from shop.vouchers.models import CartVoucher, VoucherTransaction

MAX_VOUCHERS_PER_CART = 5


def apply_code(*, session: Session, cart_id: str, user: User | None, code: str | None = None,
               voucher_id: int | None = None, now: datetime | None = None) -> Cart:
    """Apply a money voucher by its code, or one of the signed-in customer's by id (wallet);
    unknown, expired, void, used-up and other people's vouchers get one same answer."""
    cart = carts.lock_open_cart(session=session, cart_id=cart_id, user=user)
    if voucher_id is not None:
        voucher = wallet.find_held(session=session, user=user, voucher_id=voucher_id)
    else:
        voucher = services.find_by_code(session=session, code=code)
    currency = current_app.config["SHOP_CURRENCY"]
    if not holds.usable_for_payment(voucher, currency, now or utcnow()):
        raise holds.refuse_code("voucher_id" if voucher_id is not None else "code")
    already = applied(session, cart)
    if voucher in already:
        return cart
    if len(already) >= MAX_VOUCHERS_PER_CART:
        raise Conflict(f"At most {MAX_VOUCHERS_PER_CART} vouchers per order.",
                       code="too_many_vouchers")
    session.add(CartVoucher(cart_id=cart.id, voucher_id=voucher.id))
    cart.vouchers_applied = True
    cart.updated_at = utcnow()
    session.flush()
    return cart


def remove_code(*, session: Session, cart_id: str, user: User | None, code: str) -> Cart:
    """Take a voucher off the cart: by its full code, or by the last four the cart shows."""
    cart = carts.lock_open_cart(session=session, cart_id=cart_id, user=user)
    by_code = services.find_by_code(session=session, code=code)
    last4 = code.strip().upper()
    match = next((v for v in applied(session, cart) if v is by_code or v.code_last4 == last4),
                 None)
    if match is None:
        raise NotFound("That voucher is not applied to this cart.", code="voucher_not_applied")
    session.execute(delete(CartVoucher).where(
        CartVoucher.cart_id == cart.id, CartVoucher.voucher_id == match.id))
    cart.updated_at = utcnow()
    session.flush()
    return cart


def on_order_placed(*, session: Session, order, cart: Cart) -> None:
    """Checkout hook: snapshot voucher lines, hold the applied vouchers, lower the amount due."""
    purchases.copy_to_order(session=session, order=order, cart=cart)
    now = utcnow()  # a voucher used up since it was applied pays nothing, as the cart showed
    vouchers = [v for v in applied(session, cart)
                if holds.usable_for_payment(v, order.currency, now)]
    if not vouchers:
        return
    voucher_lines = sum(line.line_total_amount for line in order.lines if line.kind == "voucher")
    held = holds.hold_vouchers(
        session=session, order=order, vouchers=vouchers,
        limit=payable_by_vouchers(Money(order.total_amount, order.currency), voucher_lines,
                                  sum(voucher.available.amount for voucher in vouchers)),
    )
    order.amount_due = order.total_amount - held
    orders.add_event(order, "vouchers_held", amount=held,
                     vouchers=[voucher.code_last4 for voucher in vouchers])
    session.flush()


def on_paid(*, session: Session, order) -> None:
    """Orders hook: debit the holds (or take the share again if they were released), issue."""
    # Only holds lower amount_due, each by a positive share (placement): an order paying its
    # total by card has none, and its payment skips their three queries.
    if order.amount_due < order.total_amount:
        holds.capture_holds(session=session, order=order)
        missing = (order.total_amount - order.amount_due) - paid_by_vouchers(session, order.id)
        if missing > 0 and holds.take_again(session=session, order=order,
                                            amount=missing) < missing:
            order.needs_attention, order.attention_reason = True, "voucher_share_unavailable"
            orders.add_event(order, "voucher_share_unavailable", missing=missing)
    purchases.issue_for_order(session=session, order=order)


def paid_by_vouchers(session: Session, order_id: int) -> int:
    """Net amount debited from vouchers for the order (refund credits not subtracted)."""
    debited = session.scalar(
        select(func.coalesce(func.sum(VoucherTransaction.amount), 0))
        .where(VoucherTransaction.order_id == order_id, VoucherTransaction.kind == "debit")
    )
    return -int(debited or 0)


def on_cancel(*, session: Session, order) -> None:
    holds.release_holds(session=session, order=order,
                        note=f"order cancelled ({order.cancel_reason or 'unpaid'})")


def on_refund(*, session: Session, order, amount: int) -> None:
    """Orders hook: a refund's voucher part goes back to the vouchers that paid (latest first).

    A refund Stripe tells us about (made on the card, outside the shop) is card money only:
    nothing goes back to vouchers for it.
    """
    if _refund_made_in_stripe(session, order):
        return
    credited = holds.credit_back(session=session, order=order, amount=amount)
    if credited < amount:
        order.needs_attention, order.attention_reason = True, "voucher_credit_short"
        orders.add_event(order, "voucher_credit_short", wanted=amount, credited=credited)


def _refund_made_in_stripe(session: Session, order) -> bool:
    """record_refund notes the refund on the timeline (with its reference) before the hooks."""
    latest = order.events[-1] if order.events else None
    reference = (latest.data or {}).get("reference") if latest is not None else None
    if latest is None or latest.type != "refunded" or not reference:
        return False
    return session.scalar(select(Refund.id).where(Refund.stripe_refund_id == reference)) is not None


def on_dispute(*, session: Session, order) -> None:
    frozen = purchases.freeze_for_dispute(session=session, order=order)
    if frozen:
        orders.add_event(order, "vouchers_frozen", count=frozen)


def register_hooks() -> None:
    """Hook the vouchers domain into checkout, orders and payments (once per process)."""
    for hooks, fn in ((placing.on_order_placed, on_order_placed), (orders.on_paid, on_paid),
                      (orders.on_cancel, on_cancel), (orders.on_refund, on_refund),
                      (payments.on_dispute, on_dispute)):
        if fn not in hooks:
            hooks.append(fn)
