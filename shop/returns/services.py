"""Returns: a customer asks to send products back within the window, staff receive the
parcel and refund it (through the staff refund, so the money goes back the way it was paid)
or reject it, and the customer may withdraw a request not yet received.

Every change locks the order row first (orders.lock_order), then the return: two requests
for the same line, or two staff refunding one return, queue on the lock, so a line is never
asked back or refunded twice over.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import Select, func, select, update
from sqlalchemy.orm import Session

from shop import status_flow
from shop.accounts.models import User
from shop.admin.orders import refunds
from shop.admin.orders.services import refunded_quantities
from shop.admin.stock.alerts import alert_recipients
from shop.audit import record as audit_record
from shop.db import as_utc, utcnow
from shop.errors import Conflict, NotFound, ValidationFailed
from shop.notifications import services as notifications
from shop.orders import services as orders
from shop.orders.emails import format_money, letter
from shop.orders.models import Order
from shop.returns.models import (
    OPEN_STATUSES,
    OrderReturn,
    OrderReturnLine,
    returns_with_details,
)

RETURNABLE_ORDER_STATUSES = ("fulfilled", "completed")
# A dispatched order nobody marked delivered: its window counts from dispatch plus this.
DELIVERY_ALLOWANCE_DAYS = 5
TRANSITIONS: status_flow.Flow = {
    "receive": (frozenset({"requested"}), "received"),
    "reject": (frozenset({"requested", "received"}), "rejected"),
    "refund": (frozenset({"requested", "received"}), "refunded"),
    "withdraw": (frozenset({"requested"}), "withdrawn"),
}


# --- the customer's side ----------------------------------------------------------------------


def return_by(order: Order) -> datetime | None:
    """The end of the return window: RETURN_WINDOW_DAYS from when the customer had the goods.
    Collected at the clinic: when staff marked it collected (completed). Sent: when marked
    delivered (completed), but no later than dispatch plus a few days for the parcel, so a
    late click on "complete" does not reopen the window. While only dispatched: dispatch plus
    those days. None before it is dispatched."""
    window = timedelta(days=current_app.config["RETURN_WINDOW_DAYS"])
    events = {event.type: event for event in order.events
              if event.type in ("fulfilled", "completed")}
    if "fulfilled" not in events:
        return None
    dispatched = events["fulfilled"]
    arrived = as_utc(dispatched.created_at) + timedelta(days=DELIVERY_ALLOWANCE_DAYS)
    if "completed" in events:
        completed = as_utc(events["completed"].created_at)
        collected = bool((dispatched.data or {}).get("collection"))
        return (completed if collected else min(completed, arrived)) + window
    return arrived + window


def returnable_quantities(session: Session, order: Order) -> dict[int, int]:
    """Product lines with units neither refunded nor in a return still open."""
    # units whose card refund failed are the staff's to refund again, not to send back again
    refunded = refunded_quantities(session, order.id, including_failed=True)
    pending = dict(session.execute(
        select(OrderReturnLine.order_line_id, func.sum(OrderReturnLine.quantity))
        .join(OrderReturn, OrderReturn.id == OrderReturnLine.return_id)
        .where(OrderReturn.order_id == order.id, OrderReturn.status.in_(OPEN_STATUSES))
        .group_by(OrderReturnLine.order_line_id)).all())
    left = {line.id: line.quantity - refunded.get(line.id, 0) - int(pending.get(line.id, 0))
            for line in order.lines if line.kind == "product"}
    return {line_id: quantity for line_id, quantity in left.items() if quantity > 0}


def overview(*, session: Session, order: Order) -> dict[str, Any]:
    """The order's returns, and what can still be sent back until when."""
    deadline = return_by(order)
    still_open = order.status in RETURNABLE_ORDER_STATUSES and (
        deadline is not None and utcnow() <= deadline)
    left = returnable_quantities(session, order) if still_open else {}
    return {
        "return_by": deadline,
        "returnable": [{"line_id": line.id, "sku": line.sku, "name": line.name,
                        "quantity": left[line.id]} for line in order.lines if line.id in left],
        "items": list(session.scalars(returns_with_details().where(OrderReturn.order_id == order.id)
                                      .order_by(OrderReturn.id))),
    }


def request_return(*, session: Session, order_id: int, lines: list[dict], reason: str,
                   note: str = "") -> OrderReturn:
    """The caller has checked the viewer may see the order."""
    order = orders.lock_order(session=session, order_id=order_id)
    _check_returnable(order)
    wanted = _wanted(order, lines)
    left = returnable_quantities(session, order)
    for line_id, quantity in wanted.items():
        if quantity > left.get(line_id, 0):
            raise Conflict(f"Only {left.get(line_id, 0)} of line {line_id} can be returned.",
                           code="return_exceeds_line", line_id=line_id,
                           returnable=left.get(line_id, 0))
    requested = [{"line_id": line_id, "quantity": quantity}
                 for line_id, quantity in wanted.items()]
    estimate = sum(item.amount for item in refunds.line_refunds(session, order, requested))
    returned = OrderReturn(
        order_id=order.id, reason=reason, note=note.strip(), estimated_refund_amount=estimate,
        lines=[OrderReturnLine(order_line_id=line_id, quantity=quantity)
               for line_id, quantity in wanted.items()])
    session.add(returned)
    session.flush()
    orders.add_event(order, "return_requested", return_id=returned.id, reason=reason)
    _acknowledge(session, order, returned)
    _tell_the_clinic(session, order, returned)
    return returned


def _check_returnable(order: Order) -> None:
    if order.status not in RETURNABLE_ORDER_STATUSES:
        detail = ("It has not been sent yet: ask the clinic to cancel it instead."
                  if order.status == "paid" else f"A {order.status.replace('_', ' ')} order "
                  "has nothing to send back.")
        raise Conflict(detail, code="order_not_returnable", order_status=order.status)
    deadline = return_by(order)
    if deadline is not None and utcnow() > deadline:
        raise Conflict("The time to return this order has passed.",
                       code="return_window_closed", return_by=deadline.isoformat())


def _wanted(order: Order, lines: list[dict]) -> dict[int, int]:
    by_id = {line.id: line for line in order.lines}
    wanted: dict[int, int] = {}
    for item in lines:
        line = by_id.get(item["line_id"])
        if line is None:
            raise ValidationFailed("No such line on this order.", errors={
                "lines": [f"Line {item['line_id']} is not on this order."]})
        if line.kind != "product":
            raise ValidationFailed("Gift vouchers are not sent back.", errors={
                "lines": [f"Line {line.id} is a gift voucher: ask the clinic to refund it."]})
        wanted[line.id] = wanted.get(line.id, 0) + item["quantity"]
    return wanted


def withdraw(*, session: Session, order_id: int, return_id: int) -> OrderReturn:
    """The customer changed their mind about sending it back."""
    order, returned = _locked(session, return_id, order_id=order_id)
    _move(returned, "withdraw")
    orders.add_event(order, "return_withdrawn", return_id=returned.id)
    session.flush()
    return returned


# --- staff --------------------------------------------------------------------------------------


def list_query(*, status: str | None = None, order_id: int | None = None) -> Select:
    stmt = returns_with_details()
    if status:
        stmt = stmt.where(OrderReturn.status == status)
    if order_id:
        stmt = stmt.where(OrderReturn.order_id == order_id)
    return stmt.order_by(OrderReturn.created_at.desc(), OrderReturn.id.desc())


def get(*, session: Session, return_id: int) -> OrderReturn:
    returned = session.scalar(returns_with_details().where(OrderReturn.id == return_id))
    if returned is None:
        raise NotFound("No such return.", code="return_not_found")
    return returned


def receive(*, session: Session, actor: User, return_id: int, note: str = "") -> OrderReturn:
    """The parcel arrived and was checked."""
    order, returned = _locked(session, return_id)
    before = _move(returned, "receive", actor)
    returned.received_at = utcnow()
    if note:
        returned.staff_note = note
    _recorded(session, actor, order, returned, "receive", before)
    return returned


def reject(*, session: Session, actor: User, return_id: int, reason: str) -> OrderReturn:
    """Not accepted (e.g. opened and not faulty, or past the window): the customer is told
    why."""
    order, returned = _locked(session, return_id)
    before = _move(returned, "reject", actor)
    returned.staff_note = reason
    _recorded(session, actor, order, returned, "reject", before, reason=reason)
    text, html = letter(f"Your return for order {order.number}", [
        f"We could not accept your return of {_items(returned)}.",
        f"Why: {reason}",
        "Reply to this email if you would like to talk it over.",
    ], [])
    notifications.enqueue_email(
        session=session, to=order.email, text=text, html=html,
        subject=f"Your return for order {order.number}",
        dedupe_key=f"return-rejected:{returned.id}")
    return returned


def refund(*, session: Session, actor: User, return_id: int, restock: bool,
           method: str = "original") -> OrderReturn:
    """Refund the returned lines at the price paid (the staff refund: vouchers first, then
    the card, or as store credit; it emails the customer), optionally back on the shelf."""
    order, returned = _locked(session, return_id)
    before = _move(returned, "refund", actor)
    made = refunds.refund_order(
        session=session, actor=actor, order_id=order.id, restock=restock, method=method,
        for_return=returned.id,
        reason=f"return {returned.id}: {returned.reason.replace('_', ' ')}",
        lines=[{"line_id": line.order_line_id, "quantity": line.quantity}
               for line in returned.lines])
    returned.refund = made
    _recorded(session, actor, order, returned, "refund", before, refund_id=made.id,
              amount=made.amount, restock=restock)
    return returned


# --- the account's data ------------------------------------------------------------------------


def export_returns(*, session: Session, user: User) -> list[dict]:
    rows = session.scalars(returns_with_details().join(Order, Order.id == OrderReturn.order_id)
                           .where(Order.user_id == user.id).order_by(OrderReturn.id))
    return [{"order": row.order.number, "status": row.status, "reason": row.reason,
             "note": row.note, "items": _items(row), "created_at": row.created_at.isoformat()}
            for row in rows]


def forget_account(*, session: Session, user: User) -> None:
    """Orders stay (the business must keep them), so do their returns; the customer's own
    words go."""
    session.execute(update(OrderReturn).where(
        OrderReturn.order_id.in_(select(Order.id).where(Order.user_id == user.id)))
        .values(note=""))


# --- helpers -------------------------------------------------------------------------------------


def _locked(session: Session, return_id: int, *,
            order_id: int | None = None) -> tuple[Order, OrderReturn]:
    """The order's row lock first (as refunds take it), then the return's fresh state."""
    order_of_return = session.scalar(select(OrderReturn.order_id)
                                     .where(OrderReturn.id == return_id))
    if order_of_return is None or order_id not in (None, order_of_return):
        raise NotFound("No such return.", code="return_not_found")
    order = orders.lock_order(session=session, order_id=order_of_return)
    returned = session.scalar(select(OrderReturn).where(OrderReturn.id == return_id)
                              .with_for_update().execution_options(populate_existing=True))
    return order, returned


def _move(returned: OrderReturn, action: str, actor: User | None = None) -> str:
    before = returned.status
    returned.status = status_flow.next_status(TRANSITIONS, before, action, subject="return",
                                              code="invalid_return_transition")
    if returned.status not in OPEN_STATUSES:
        returned.closed_at = utcnow()
    if actor is not None:
        returned.handled_by_id = actor.id
    return before


def _recorded(session: Session, actor: User, order: Order, returned: OrderReturn,
              action: str, before: str, **details: Any) -> None:
    orders.add_event(order, f"return_{returned.status}", return_id=returned.id,
                     staff_user_id=actor.id, **details)
    session.flush()
    audit_record(session=session, actor=actor, action=f"return.{action}", entity="return",
                 entity_id=str(returned.id), before={"status": before},
                 after={"status": returned.status, **details})


def _items(returned: OrderReturn) -> str:
    return ", ".join(f"{line.quantity} x {line.order_line.name}" for line in returned.lines)


def _return_address() -> str:
    config = current_app.config
    return config["RETURN_ADDRESS"] or f"{config['SELLER_NAME']}, {config['SELLER_ADDRESS']}"


def _acknowledge(session: Session, order: Order, returned: OrderReturn) -> None:
    text, html = letter(f"Your return for order {order.number}", [
        f"We have your request to return {_items(returned)}.",
        f"Please send the items to {_return_address()}, with a note of your order number "
        f"{order.number} and return number {returned.id}.",
        f"Once they reach us we will refund {format_money(returned.estimated_refund)} "
        "the way you paid.",
    ], [])
    notifications.enqueue_email(
        session=session, to=order.email, text=text, html=html,
        subject=f"Your return for order {order.number}",
        dedupe_key=f"return-requested:{returned.id}")


def _tell_the_clinic(session: Session, order: Order, returned: OrderReturn) -> None:
    text, html = letter(f"Return {returned.id} requested", [
        f"Order {order.number} ({order.email}): {_items(returned)}.",
        f"Reason: {returned.reason.replace('_', ' ')}. {returned.note}".strip(),
        "Mark it received when the parcel arrives, then refund or reject it.",
    ], [])
    for address in alert_recipients(session=session,
                                    configured=current_app.config["STAFF_ALERT_EMAIL"]):
        notifications.enqueue_email(
            session=session, to=address, subject=f"Return requested on {order.number}",
            text=text, html=html, dedupe_key=f"return:{returned.id}:{address}"[:255])
