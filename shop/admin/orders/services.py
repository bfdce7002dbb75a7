"""Orders for staff: find them, read everything about one, move it along the status flow.

Every transition locks the order row (orders.lock_order) before checking the transition
table, so a webhook, the worker and two staff members can race on one order safely.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, selectinload

from shop.accounts.models import User
from shop.admin.models import OrderNote, OrderRefund, OrderRefundLine
from shop.admin.orders import emails
from shop.admin.orders.transitions import PAST_TENSE, next_status
from shop.admin.stock.services import movement_item, movements_query, staff_ref
from shop.audit import record as audit_record
from shop.checkout import shipping
from shop.db import utcnow
from shop.errors import Conflict, NotFound
from shop.money import Money
from shop.orders import credit_notes
from shop.orders import emails as customer_emails
from shop.orders import services as orders
from shop.orders.models import Order
from shop.payments import services as payments
from shop.payments.models import Payment, Refund
from shop.payments.refunds import NOT_COUNTING
from shop.returns.models import OrderReturn, returns_with_details
from shop.vouchers.models import Voucher, VoucherTransaction

PAID_STATUSES = ("paid", "fulfilled", "completed")


def orders_query(
    *, status: str | None = None, date_from: datetime | None = None,
    date_to: datetime | None = None, email: str | None = None, number: str | None = None,
    needs_attention: bool | None = None,
) -> Select:
    """Newest first; `email` matches part of the address, `number` the whole number."""
    stmt = select(Order).options(selectinload(Order.lines))
    if status:
        stmt = stmt.where(Order.status == status)
    if date_from:
        stmt = stmt.where(Order.created_at >= date_from)
    if date_to:
        stmt = stmt.where(Order.created_at < date_to)
    if email:
        stmt = stmt.where(func.lower(Order.email).contains(email.lower(), autoescape=True))
    if number:
        stmt = stmt.where(func.upper(Order.number) == number.strip().upper())
    if needs_attention is not None:
        stmt = stmt.where(Order.needs_attention.is_(needs_attention))
    return stmt.order_by(Order.created_at.desc(), Order.id.desc())


# --- what was paid and refunded -------------------------------------------------------------


@dataclass(frozen=True)
class Settlement:
    """What an order took from the card and from gift vouchers, and what went back."""

    card_paid: int
    card_refunded: int
    voucher_paid: int
    voucher_refunded: int
    store_credit: int = 0  # refunded as new gift vouchers instead

    @property
    def paid(self) -> int:
        return self.card_paid + self.voucher_paid

    @property
    def refunded(self) -> int:
        return self.card_refunded + self.voucher_refunded + self.store_credit

    @property
    def refundable(self) -> int:
        return self.paid - self.refunded

    @property
    def voucher_refundable(self) -> int:
        return self.voucher_paid - self.voucher_refunded


def captured_payment(session: Session, order_id: int) -> Payment | None:
    return session.scalar(
        select(Payment).where(Payment.order_id == order_id, Payment.status == "succeeded")
        .order_by(Payment.attempt.desc()).limit(1)
    )


def settlement(*, session: Session, order: Order) -> Settlement:
    """Card refunds come from the payments domain (so refunds made in Stripe count too)."""
    payment = captured_payment(session, order.id)
    card_paid = payment.amount if payment else 0
    card_left = payments.refundable_amount(session=session, payment=payment) if payment else 0
    voucher_refunded, store_credit = session.execute(
        select(func.coalesce(func.sum(OrderRefund.voucher_amount), 0),
               func.coalesce(func.sum(OrderRefund.store_credit_amount), 0))
        .where(OrderRefund.order_id == order.id)
    ).one()
    voucher_paid = order.total_amount - order.amount_due if order.paid_at else 0
    return Settlement(card_paid, card_paid - card_left, voucher_paid, int(voucher_refunded),
                      int(store_credit))


# --- detail ---------------------------------------------------------------------------------


def get_order(*, session: Session, order_id: int) -> Order:
    order = session.scalar(
        select(Order).where(Order.id == order_id)
        .options(selectinload(Order.lines), selectinload(Order.events))
    )
    if order is None:
        raise NotFound("No such order.", code="order_not_found")
    return order


def refunded_quantities(session: Session, order_id: int, *,
                        including_failed: bool = False) -> dict[int, int]:
    """Units of each line that staff refunds paid back. A refund that paid back nothing (all
    card, and the bank sent the card part back) does not count, so its lines can be refunded
    again, unless `including_failed` (what the customer already handed back)."""
    stmt = (select(OrderRefundLine.order_line_id, func.sum(OrderRefundLine.quantity))
            .join(OrderRefund, OrderRefund.id == OrderRefundLine.refund_id)
            .where(OrderRefund.order_id == order_id)
            .group_by(OrderRefundLine.order_line_id))
    if not including_failed:
        stmt = stmt.where(~paid_back_nothing())
    return {line_id: int(quantity) for line_id, quantity in session.execute(stmt)}


def paid_back_nothing():
    """The condition of a staff refund whose only part, the card's, failed (RefundFacts'
    paid_back == 0, which credit notes and restocking go by, in SQL)."""
    return ((OrderRefund.voucher_amount == 0) & (OrderRefund.store_credit_amount == 0)
            & select(Refund.id).where(Refund.id == OrderRefund.payment_refund_id,
                                      Refund.status.in_(NOT_COUNTING)).exists())


def _voucher_use(session: Session, order: Order) -> list[dict[str, Any]]:
    """The gift-voucher ledger entries of this order: holds, debits, releases, credits."""
    rows = session.execute(
        select(VoucherTransaction, Voucher.code_last4)
        .join(Voucher, Voucher.id == VoucherTransaction.voucher_id)
        .where(VoucherTransaction.order_id == order.id)
        .order_by(VoucherTransaction.id)
    )
    return [{
        "voucher": f"...{last4}", "kind": entry.kind,
        "amount": Money(entry.amount, entry.currency),
        "held_change": Money(entry.held_change, entry.currency),
        "note": entry.note, "created_at": entry.created_at,
    } for entry, last4 in rows]


def refund_item(*, session: Session, refund: OrderRefund,
                notes: dict[int | None, credit_notes.CreditNote] | None = None) -> dict[str, Any]:
    """A staff refund as StaffRefundSchema shows it; `notes`: the order's credit notes by
    staff refund id (worked out here if not given)."""
    order = session.get(Order, refund.order_id)
    skus = {line.id: line.sku for line in order.lines}
    staff = session.get(User, refund.staff_user_id) if refund.staff_user_id else None
    note = (notes if notes is not None else _credit_notes(session, order))[refund.id]
    return {
        "id": refund.id, "credit_note": note.credit_note, "status": note.status,
        "amount": order.money(refund.amount),
        "card_amount": order.money(refund.card_amount),
        "voucher_amount": order.money(refund.voucher_amount),
        "store_credit_amount": order.money(refund.store_credit_amount),
        "store_credit_voucher": _store_credit_voucher(session, refund), "vat": note.vat,
        "vat_by_rate": note.vat_by_rate,
        "restock": refund.restock, "reason": refund.reason, "staff": staff_ref(staff),
        "lines": [{"line_id": line.order_line_id, "sku": skus.get(line.order_line_id),
                   "quantity": line.quantity, "amount": order.money(line.amount)}
                  for line in refund.lines],
        "created_at": refund.created_at,
    }


def _store_credit_voucher(session: Session, refund: OrderRefund) -> Voucher | None:
    if refund.store_credit_voucher_id is None:
        return None
    return session.get(Voucher, refund.store_credit_voucher_id)


def _credit_notes(session: Session, order: Order) -> dict[int | None, credit_notes.CreditNote]:
    return {note.staff_refund_id: note
            for note in credit_notes.for_order(session=session, order=order)}


def _refund_items(session: Session, order: Order) -> list[dict[str, Any]]:
    refunds = session.scalars(
        select(OrderRefund).where(OrderRefund.order_id == order.id)
        .options(selectinload(OrderRefund.lines)).order_by(OrderRefund.id)
    ).all()
    notes = _credit_notes(session, order) if refunds else {}
    return [refund_item(session=session, refund=refund, notes=notes) for refund in refunds]


def order_detail(*, session: Session, order_id: int) -> dict[str, Any]:
    """The order with its payments, refunds, voucher use, stock movements and timeline."""
    order = get_order(session=session, order_id=order_id)
    settled = settlement(session=session, order=order)
    refunded = refunded_quantities(session, order.id)
    payment_rows = session.scalars(
        select(Payment).where(Payment.order_id == order.id)
        .options(selectinload(Payment.refunds)).order_by(Payment.attempt)
    ).all()
    return {
        "order": order,
        "lines": [{"line": line, "refunded_quantity": refunded.get(line.id, 0)}
                  for line in order.lines],
        "payments": payment_rows,
        "refunds": _refund_items(session, order),
        "refunded": order.money(settled.refunded),
        "refundable": order.money(settled.refundable),
        "vouchers": _voucher_use(session, order),
        "stock_movements": [movement_item(row) for row in session.execute(
            movements_query(order_id=order.id))],
        "returns": list(session.scalars(returns_with_details().where(
            OrderReturn.order_id == order.id).order_by(OrderReturn.id))),
        "events": order.events,
        "notes": notes_of(session, order.id),
    }


def notes_of(session: Session, order_id: int) -> list[OrderNote]:
    return list(session.scalars(select(OrderNote).where(OrderNote.order_id == order_id)
                                .order_by(OrderNote.id)))


def add_note(*, session: Session, actor: User, order_id: int, text: str) -> OrderNote:
    """A note for the other staff; notes are only added, like the timeline beside them."""
    get_order(session=session, order_id=order_id)
    note = OrderNote(order_id=order_id, staff_user_id=actor.id, text=text, staff=actor)
    session.add(note)
    session.flush()
    return note


def resolve_attention(*, session: Session, actor: User, order_id: int, note: str) -> Order:
    """Staff dealt with what flagged the order (a refund the bank sent back, a dispute...):
    the flag goes, and the timeline and audit log keep why it was raised and what was done."""
    order = orders.lock_order(session=session, order_id=order_id)
    if not order.needs_attention:
        raise Conflict("Nothing on this order needs attention.", code="nothing_to_resolve")
    reason = order.attention_reason
    order.needs_attention, order.attention_reason = False, None
    orders.add_event(order, "attention_resolved", staff_user_id=actor.id, reason=reason,
                     note=note)
    session.flush()
    audit_record(session=session, actor=actor, action="order.resolve_attention",
                 entity="order", entity_id=str(order.id),
                 before={"needs_attention": True, "attention_reason": reason},
                 after={"needs_attention": False, "note": note})
    return order


# --- transitions ----------------------------------------------------------------------------


def _transitioned(session: Session, actor: User, order: Order, action: str, before: str,
                  *, event: bool = True, **data: Any) -> None:
    """The timeline event (unless the orders domain wrote it) and the audit entry."""
    if event:
        orders.add_event(order, PAST_TENSE[action], staff_user_id=actor.id, **data)
    session.flush()
    audit_record(session=session, actor=actor, action=f"order.{action}", entity="order",
                 entity_id=str(order.id), before={"status": before},
                 after={"status": order.status, **data})


def fulfil_order(
    *, session: Session, actor: User, order_id: int, carrier: str | None = None,
    tracking_number: str | None = None, collected: bool = False,
) -> Order:
    """Dispatched with a tracking number, or ready for collection at the clinic; the
    customer is e-mailed (through the outbox) either way."""
    order = orders.lock_order(session=session, order_id=order_id)
    before = order.status
    order.status = next_status(order.status, "fulfil")
    if collected:
        message = emails.ready_for_collection(order)
        details: dict[str, Any] = {"collection": True}
    else:
        message = emails.dispatched(order, carrier, tracking_number)
        details = {"carrier": carrier, "tracking_number": tracking_number}
    orders.email_customer(session=session, order=order, message=message,
                          dedupe_key=f"order-fulfilled:{order.id}")
    _transitioned(session, actor, order, "fulfil", before, **details)
    return order


def change_shipping_address(*, session: Session, actor: User, order_id: int,
                            address: dict[str, Any]) -> Order:
    """Send a parcel somewhere else (the customer called) while it is still to be dispatched:
    on the timeline, audited, and the customer is emailed the new address."""
    order = orders.lock_order(session=session, order_id=order_id)
    method = shipping.BY_CODE.get(order.shipping_method or "")
    if method is None or not method.requires_address:
        raise Conflict("Nothing in this order is delivered to an address.",
                       code="order_not_delivered")
    if order.status not in ("pending_payment", "paid"):
        raise Conflict(f"The order is {order.status.replace('_', ' ')}: its parcel can no "
                       "longer be sent elsewhere.", code="order_already_dispatched",
                       order_status=order.status)
    before = order.shipping_address
    if address == before:
        return order
    order.shipping_address = address
    orders.add_event(order, "shipping_address_changed", staff_user_id=actor.id)
    changes = sum(event.type == "shipping_address_changed" for event in order.events)
    orders.email_customer(session=session, order=order, message=emails.address_changed(order),
                          dedupe_key=f"order-address-changed:{order.id}:{changes}")
    session.flush()
    audit_record(session=session, actor=actor, action="order.change_shipping_address",
                 entity="order", entity_id=str(order.id), before={"shipping_address": before},
                 after={"shipping_address": address})
    return order


def complete_order(*, session: Session, actor: User, order_id: int) -> Order:
    order = orders.lock_order(session=session, order_id=order_id)
    before = order.status
    order.status = next_status(order.status, "complete")
    _transitioned(session, actor, order, "complete", before)
    return order


def cancel_order(*, session: Session, actor: User, order_id: int, reason: str) -> Order:
    """Unpaid: stop its payment and release its stock. Paid: only once refunded in full.

    Stopping the payment may find that the customer paid after all: the order is then
    settled as paid (worth committing) and comes back not cancelled."""
    order = get_order(session=session, order_id=order_id)
    next_status(order.status, "cancel")
    if order.status == "pending_payment":
        payments.cancel_payment(session=session, order=order)
        order = orders.cancel_unpaid(session=session, order_id=order_id,
                                     reason="cancelled_by_staff")
        if order.status == "cancelled":
            _transitioned(session, actor, order, "cancel", "pending_payment", event=False,
                          reason=reason)
            _tell_cancelled(session, order, was_paid=False)
        return order
    order = orders.lock_order(session=session, order_id=order_id)
    before = order.status
    target = next_status(order.status, "cancel")
    if settlement(session=session, order=order).refundable > 0:
        raise Conflict("Refund the order in full before cancelling it.",
                       code="order_not_refunded")
    order.status, order.cancelled_at, order.cancel_reason = target, utcnow(), "refunded"
    for hook in orders.on_cancel:
        hook(session=session, order=order)
    _transitioned(session, actor, order, "cancel", before, reason=reason)
    _tell_cancelled(session, order, was_paid=True)
    return order


def _tell_cancelled(session: Session, order: Order, *, was_paid: bool) -> None:
    orders.email_customer(session=session, order=order,
                          message=customer_emails.cancelled_by_clinic(order, was_paid=was_paid),
                          dedupe_key=f"order-cancelled:{order.id}")
