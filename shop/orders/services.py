"""Order transitions: reserve at checkout, sell when paid, release when unpaid for too long.

Every transition locks the order row first (FOR UPDATE), so the webhook, the app's sync call
and the worker can race on one order and only the first of them changes anything.
Other domains hook in through the `on_paid`, `on_cancel` and `on_refund` lists; their
callables run inside the same transaction as the transition.
"""

from __future__ import annotations

import hmac
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, func, inspect, select
from sqlalchemy.orm import Session, object_session, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from shop.accounts.auth import hash_token
from shop.accounts.models import User
from shop.carts.models import Cart
from shop.db import insert_now, update_now, utcnow
from shop.errors import NotFound
from shop.inventory import services as inventory
from shop.notifications import services as notifications
from shop.orders import emails, links
from shop.orders.models import (
    Order,
    OrderEvent,
    StockReservation,
)
from shop.orders.schemas import OrderSchema

PAID_AFTER_EXPIRY_OUT_OF_STOCK = "paid_after_expiry_out_of_stock"
AMOUNT_MISMATCH = "payment_amount_mismatch"

# fn(*, session, order) -> None
on_paid: list[Callable[..., None]] = []
on_cancel: list[Callable[..., None]] = []
# fn(*, session, order, amount: int) -> None
on_refund: list[Callable[..., None]] = []


@dataclass(frozen=True)
class PaidResult:
    order: Order
    changed: bool
    must_refund: bool = False


def new_event(order_id: int | None, type_: str, **data) -> OrderEvent:
    return OrderEvent(order_id=order_id, type=type_, data=data, created_at=utcnow())


def add_event(order: Order, type_: str, **data) -> None:
    event = new_event(None, type_, **data)
    session = object_session(order)
    if session is None or order.id is None or "events" not in inspect(order).unloaded:
        order.events.append(event)
        return
    # The timeline is not loaded: loading it only to append would cost a SELECT. The row is
    # written at once (no flush), so a later read of order.events finds it.
    event.order_id = order.id
    insert_now(session, event)


# Built once (see carts.services.CART): every transition of an order starts here.
LOCKED_ORDER = (
    select(Order).where(Order.id == bindparam("order_id")).with_for_update()
    .execution_options(populate_existing=True)
)


def lock_order(*, session: Session, order_id: int) -> Order:
    order = session.scalar(LOCKED_ORDER, {"order_id": order_id})
    if order is None:
        raise NotFound("No such order.", code="order_not_found")
    return order


def _stock_quantities(order: Order) -> dict[int, int]:
    quantities: dict[int, int] = defaultdict(int)
    for line in order.lines:
        if line.kind == "product" and line.variant_id is not None:
            quantities[line.variant_id] += line.quantity
    return dict(sorted(quantities.items()))


def reserve_stock(*, session: Session, order: Order, expires_at: datetime) -> None:
    """Hold every product line's units, variants in id order (the global lock order).

    The reservation rows are inserted (and whatever else the caller changed is flushed)
    before any stock row is locked; if a variant is short, Conflict rolls them back with the
    rest of the transaction."""
    quantities = _stock_quantities(order)
    reservations = [
        StockReservation(order_id=order.id, variant_id=variant_id, quantity=quantity,
                         status="active", expires_at=expires_at)
        for variant_id, quantity in quantities.items()
    ]
    if order.reservation_expires_at != expires_at:
        update_now(session, order, reservation_expires_at=expires_at)
    if reservations:
        insert_now(session, *reservations)
        set_committed_value(order, "reservations", [*order.reservations, *reservations])
    for variant_id, quantity in quantities.items():
        inventory.reserve(session=session, variant_id=variant_id, quantity=quantity)
    session.flush()


def _convert_reservations(session: Session, order: Order) -> None:
    for reservation in order.reservations:
        if reservation.status == "active":
            inventory.sell_reserved(
                session=session, variant_id=reservation.variant_id,
                quantity=reservation.quantity, order_id=order.id,
            )
            update_now(session, reservation, status="converted")


def _release_reservations(session: Session, order: Order) -> None:
    for reservation in order.reservations:
        if reservation.status == "active":
            inventory.release(
                session=session, variant_id=reservation.variant_id, quantity=reservation.quantity
            )
            reservation.status = "released"


def _take_stock_again(session: Session, order: Order) -> bool:
    """A payment arrived after the reservation was released: sell if the stock is still there."""
    wanted = _stock_quantities(order)
    available = inventory.available_under_lock(session=session, variant_ids=list(wanted))
    if any(available.get(variant_id, 0) < quantity for variant_id, quantity in wanted.items()):
        return False
    reserve_stock(session=session, order=order, expires_at=utcnow())
    _convert_reservations(session, order)
    return True


def _flag(order: Order, reason: str, **data) -> None:
    order.needs_attention, order.attention_reason = True, reason
    add_event(order, reason, **data)


def mark_paid(
    *, session: Session, order_id: int, amount_received: int, reference: str
) -> PaidResult:
    """The payment for an order succeeded. Idempotent: a repeat changes nothing."""
    order = lock_order(session=session, order_id=order_id)
    if order.paid_at is not None:
        return PaidResult(order, changed=False)
    if amount_received < order.amount_due:
        if order.attention_reason != AMOUNT_MISMATCH:
            _flag(order, AMOUNT_MISMATCH, expected=order.amount_due, received=amount_received,
                  reference=reference)
        session.flush()
        return PaidResult(order, changed=False)
    was_released = order.status != "pending_payment"
    if was_released and not _take_stock_again(session, order):
        order.paid_at, order.payment_reference = utcnow(), reference
        _flag(order, PAID_AFTER_EXPIRY_OUT_OF_STOCK, amount=amount_received, reference=reference)
        session.flush()
        return PaidResult(order, changed=True, must_refund=True)
    if not was_released:
        _convert_reservations(session, order)
    # Written at once, as the payment webhook's other writes: a flush of the order, its event
    # and its reservations cost more than the statements themselves.
    update_now(session, order, status="paid", paid_at=utcnow(), payment_reference=reference,
               cancelled_at=None, cancel_reason=None)
    add_event(order, "paid", amount=amount_received, reference=reference,
              after_release=was_released)
    for hook in on_paid:
        hook(session=session, order=order)
    email_customer(session=session, order=order, message=emails.confirmation(order),
                   dedupe_key=f"order-confirmation:{order.id}")
    session.flush()
    return PaidResult(order, changed=True)


def email_customer(*, session: Session, order: Order, message: tuple[str, str, str],
                   dedupe_key: str) -> None:
    """Queue one of shop.orders.emails' (subject, text, html) for the order's customer;
    `dedupe_key` makes sure it goes once however often the caller runs."""
    subject, text, html = message
    notifications.enqueue_email(session=session, to=order.email, subject=subject, text=text,
                                html=html, dedupe_key=dedupe_key)


def record_payment_failure(*, session: Session, order_id: int, reason: str) -> Order:
    """A payment attempt failed; the order stays payable until its reservation expires."""
    order = lock_order(session=session, order_id=order_id)
    add_event(order, "payment_failed", reason=reason)
    session.flush()
    return order


def _reopen_cart(session: Session, order: Order) -> None:
    cart = session.get(Cart, order.cart_id) if order.cart_id else None
    if cart is not None and cart.status == "checked_out":
        cart.status, cart.updated_at = "open", utcnow()


def cancel_unpaid(*, session: Session, order_id: int, reason: str) -> Order:
    """Cancel a pending order: stock back on the shelf, the cart open again. Idempotent."""
    order = lock_order(session=session, order_id=order_id)
    if order.status != "pending_payment":
        return order
    _release_reservations(session, order)
    order.status, order.cancelled_at, order.cancel_reason = "cancelled", utcnow(), reason
    add_event(order, "cancelled", reason=reason)
    for hook in on_cancel:
        hook(session=session, order=order)
    _reopen_cart(session, order)
    session.flush()
    return order


def release_expired(*, session: Session, order_id: int) -> Order:
    return cancel_unpaid(session=session, order_id=order_id, reason="reservation_expired")


def record_refund(
    *, session: Session, order_id: int, amount: int, reference: str, reason: str = ""
) -> Order:
    """Note a refund on the timeline and let other domains react (vouchers credit back)."""
    order = lock_order(session=session, order_id=order_id)
    add_event(order, "refunded", amount=amount, reference=reference, reason=reason)
    for hook in on_refund:
        hook(session=session, order=order, amount=amount)
    session.flush()
    return order


def due_for_expiry(*, session: Session, now: datetime, limit: int = 100) -> list[Order]:
    """Pending orders whose reservation ran out, locked; rows other workers hold are skipped."""
    return list(session.scalars(
        select(Order)
        .where(Order.status == "pending_payment", Order.reservation_expires_at <= now)
        .order_by(Order.reservation_expires_at, Order.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ))


def pending_for_reconciliation(
    *, session: Session, older_than: datetime, limit: int = 100
) -> list[Order]:
    """Orders still waiting for a card payment since before `older_than`, oldest first."""
    return list(session.scalars(
        select(Order)
        .where(Order.status == "pending_payment", Order.amount_due > 0,
               Order.created_at <= older_than)
        .order_by(Order.created_at, Order.id)
        .limit(limit)
    ))


def _viewer_may_see(order: Order, user: User | None, access_token: str | None) -> bool:
    if user is not None and order.user_id is not None and order.user_id == user.id:
        return True
    if access_token and order.access_token_hash:
        return (hmac.compare_digest(order.access_token_hash, hash_token(access_token))
                or links.opens(order, access_token))
    return False


def send_order_link(*, session: Session, email: str, number: str) -> None:
    """Email the way back to an order (a guest's signed link, or the sign-in page) to the
    address it was placed with, when the number and the address match; at most once an hour
    per order. The caller answers the same either way, so nobody learns which orders exist."""
    order = session.scalar(select(Order).where(Order.number == number.strip().upper()))
    if order is None or order.email.lower() != email.strip().lower():
        return
    email_customer(session=session, order=order,
                   message=emails.order_link(order, links.order_link(order)),
                   dedupe_key=f"order-link:{order.id}:{utcnow():%Y%m%d%H}")


def get_order_for_viewer(
    *, session: Session, order_id: int, user: User | None, access_token: str | None
) -> Order:
    """The order, for its customer or a guest holding its access token; otherwise 404."""
    order = session.scalar(
        select(Order).where(Order.id == order_id)
        .options(selectinload(Order.lines), selectinload(Order.events))
    )
    if order is None or not _viewer_may_see(order, user, access_token):
        raise NotFound("No such order.", code="order_not_found")
    return order


def list_orders(
    *, session: Session, user: User, page: int, per_page: int
) -> tuple[list[Order], int]:
    """A customer's own orders, newest first."""
    base = select(Order).where(Order.user_id == user.id)
    total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
    items = session.scalars(
        base.order_by(Order.created_at.desc(), Order.id.desc())
        .options(selectinload(Order.lines), selectinload(Order.events))
        .limit(per_page).offset((page - 1) * per_page)
    )
    return list(items), total


def export_orders(*, session: Session, user: User) -> list[dict]:
    """The orders section of a customer's data export (UK GDPR access request)."""
    orders = session.scalars(
        select(Order).where(Order.user_id == user.id).order_by(Order.created_at, Order.id)
        .options(selectinload(Order.lines), selectinload(Order.events))
    )
    return OrderSchema(many=True).dump(list(orders))
