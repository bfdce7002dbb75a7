"""Staff refunds: by lines (optionally back on the shelf) or by amount.

The order row is locked FOR UPDATE first and what is still refundable is computed under that
lock, in the same transaction that records the refund: concurrent refunds of one order queue
on the lock and together can never exceed what was paid.

The refund goes back the way the order was paid, gift vouchers first (credited back through
the orders domain's on_refund hooks, which the vouchers domain listens to), the rest to the
card through Stripe's refund API with an idempotency key derived from the refund request.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shop.accounts.models import User
from shop.admin.models import OrderRefund, OrderRefundLine
from shop.admin.orders.services import refunded_quantities, settlement
from shop.audit import record as audit_record
from shop.db import as_utc
from shop.errors import Conflict, ValidationFailed
from shop.inventory import services as inventory
from shop.money import Money
from shop.orders import credit_notes, emails
from shop.orders import services as orders
from shop.orders.models import Order, OrderLine
from shop.payments import services as payments
from shop.returns.models import OPEN_STATUSES, OrderReturn, OrderReturnLine
from shop.vouchers import delivery as voucher_delivery
from shop.vouchers import purchases as voucher_purchases
from shop.vouchers import services as voucher_services
from shop.vouchers.models import Voucher


@dataclass(frozen=True)
class LineRefund:
    line: OrderLine
    quantity: int
    amount: int


def _share(line: OrderLine, order: Order, units: int) -> int:
    """What `units` of a line cost after its part of the discount; all of them, exactly
    what was paid for the line (as its credit notes count it)."""
    return credit_notes.paid_for_lines(order)[line.id] * units // line.quantity


def _in_open_returns(session: Session, order: Order, but: int | None) -> dict[int, int]:
    """Units of each line the customer is sending back in a return still open (but `but`)."""
    rows = session.execute(
        select(OrderReturnLine.order_line_id, func.sum(OrderReturnLine.quantity))
        .join(OrderReturn, OrderReturn.id == OrderReturnLine.return_id)
        .where(OrderReturn.order_id == order.id, OrderReturn.status.in_(OPEN_STATUSES),
               OrderReturn.id != (but or 0))
        .group_by(OrderReturnLine.order_line_id))
    return {line_id: int(units) for line_id, units in rows}


def line_refunds(session: Session, order: Order, requested: list[dict], *,
                 for_return: int | None = None) -> list[LineRefund]:
    """Each requested line, checked against what is left of it; amounts computed so that
    refunding every unit of a line, in any steps, gives back exactly what it cost. Units in
    an open return are that return's to refund (`for_return`): refunded another way, a unit
    could be paid back twice, once directly and once when its parcel arrives."""
    lines = {line.id: line for line in order.lines}
    done = refunded_quantities(session, order.id)
    returning = _in_open_returns(session, order, for_return)
    wanted: dict[int, int] = {}
    for item in requested:
        wanted[item["line_id"]] = wanted.get(item["line_id"], 0) + item["quantity"]
    result = []
    for line_id, quantity in wanted.items():
        line = lines.get(line_id)
        if line is None:
            raise ValidationFailed("No such line on this order.",
                                   errors={"lines": [f"Line {line_id} is not on this order."]})
        before = done.get(line_id, 0)
        if before + quantity > line.quantity:
            raise Conflict(f"Only {line.quantity - before} of line {line_id} are left to refund.",
                           code="refund_exceeds_line", line_id=line_id)
        if before + returning.get(line_id, 0) + quantity > line.quantity:
            raise Conflict(f"{returning[line_id]} of line {line_id} are in a return still open: "
                           "refund them through the return, or reject it first.",
                           code="line_in_open_return", line_id=line_id)
        amount = _share(line, order, before + quantity) - _share(line, order, before)
        result.append(LineRefund(line, quantity, amount))
    return result


def _stripe_key(order: Order, number: int, card_amount: int, request: dict) -> str:
    """Same request again (say, after a timeout) -> same key -> Stripe answers the first
    refund instead of making a second one."""
    digest = hashlib.sha256(
        json.dumps({**request, "card": card_amount}, sort_keys=True, default=str).encode()
    ).hexdigest()[:16]
    return f"order-{order.id}-staff-refund-{number}-{digest}"


def _restock(session: Session, actor: User, order: Order, refund: OrderRefund,
             items: list[LineRefund]) -> None:
    shelved = _shelved_unrefunded(session, order, but=refund)
    wanted: dict[int, int] = {}
    for item in items:
        if item.line.variant_id is not None and item.line.kind == "product":
            new = item.quantity - min(shelved.get(item.line.id, 0), item.quantity)
            wanted[item.line.variant_id] = wanted.get(item.line.variant_id, 0) + new
    for variant_id in sorted(wanted):
        if wanted[variant_id] > 0:
            inventory.record_movement(
                session=session, variant_id=variant_id, quantity=wanted[variant_id],
                reason="returned", note=f"refund on {order.number}", staff_user_id=actor.id,
                order_id=order.id,
            )


def _shelved_unrefunded(session: Session, order: Order, *, but: OrderRefund) -> dict[int, int]:
    """Units of each line back on the shelf that no refund now holds: a refund whose card part
    the bank sent back (it paid back nothing) frees its units, but those it put back on the
    shelf, or found there, stay there. The next refunds of the line take those units first,
    restocking or not, so that refunding them again never puts them back twice. Replayed in
    the order things happened, each refund as it was made, each failure when it was learnt."""
    restocking = set(session.scalars(select(OrderRefund.id).where(
        OrderRefund.order_id == order.id, OrderRefund.restock.is_(True))))
    events = []
    for fact in credit_notes.refunds_of(session, order.id):
        if fact.staff_refund_id is None or fact.staff_refund_id == but.id:
            continue
        events.append((as_utc(fact.created_at), fact.staff_refund_id, 0, fact))
        if fact.paid_back == 0:
            failed = fact.card_failed_at or fact.created_at
            events.append((as_utc(failed), fact.staff_refund_id, 1, fact))
    free: dict[int, int] = {}  # line id -> units on the shelf that no refund holds
    held: dict[tuple[int, int], int] = {}  # (refund, line) -> its units on the shelf
    for _, refund_id, freed, fact in sorted(events, key=lambda event: event[:3]):
        for item in fact.lines:
            if freed:
                free[item.line_id] = free.get(item.line_id, 0) + held.get(
                    (refund_id, item.line_id), 0)
                continue
            taken = min(free.get(item.line_id, 0), item.quantity)
            free[item.line_id] = free.get(item.line_id, 0) - taken
            held[refund_id, item.line_id] = (item.quantity if refund_id in restocking
                                              else taken)
    return free


def refund_order(
    *, session: Session, actor: User, order_id: int, reason: str, restock: bool = False,
    lines: list[dict] | None = None, amount: Money | None = None,
    for_return: int | None = None, method: str = "original",
) -> OrderRefund:
    """Pay back `lines` or an `amount` the way the order was paid (`original`: gift vouchers
    first, then the card), or all of it as `store_credit`: a new money gift voucher emailed to
    the customer (with their agreement: a remedy for a card the bank sends refunds back from)."""
    order = orders.lock_order(session=session, order_id=order_id)
    if order.paid_at is None:
        raise Conflict("Nothing was paid for this order.", code="order_not_paid")
    items = line_refunds(session, order, lines, for_return=for_return) if lines else []
    voucher_lines = [item.line.id for item in items if item.line.kind == "voucher"]
    if voucher_lines:  # the vouchers bought are voided first; a used one refuses it (409)
        voucher_purchases.refund_purchases(session=session, order=order, line_ids=voucher_lines,
                                           staff=actor, reason=f"refunded: {reason}")
    if amount is not None and amount.currency != order.currency:
        raise ValidationFailed("Refund in the order's currency.",
                               errors={"amount": [f"Must be in {order.currency}."]})
    total = amount.amount if amount is not None else sum(item.amount for item in items)
    settled = settlement(session=session, order=order)
    if total <= 0 or total > settled.refundable:
        raise Conflict(f"At most {settled.refundable} can still be refunded on this order.",
                       code="refund_exceeds_payment", refundable=settled.refundable)
    store_credit = total if method == "store_credit" else 0
    voucher_part = min(total - store_credit, settled.voucher_refundable)
    card_part = total - store_credit - voucher_part
    if voucher_part and not orders.on_refund:
        raise Conflict("Nothing can credit gift vouchers back yet; refund the card part only.",
                       code="voucher_credit_unavailable", voucher_amount=voucher_part)
    number = 1 + session.scalar(
        select(func.count()).select_from(OrderRefund).where(OrderRefund.order_id == order.id))
    request = {"lines": lines, "amount": total, "restock": restock, "reason": reason}
    refund = OrderRefund(
        order_id=order.id, amount=total, card_amount=card_part, voucher_amount=voucher_part,
        store_credit_amount=store_credit, currency=order.currency, restock=restock,
        reason=reason, staff_user_id=actor.id,
        lines=[OrderRefundLine(order_line_id=item.line.id, quantity=item.quantity,
                               amount=item.amount) for item in items],
    )
    session.add(refund)
    session.flush()
    if card_part:
        refund.stripe_idempotency_key = _stripe_key(order, number, card_part, request)
        refund.payment_refund_id = payments.refund(
            session=session, order=order, amount=card_part,
            idempotency_key=refund.stripe_idempotency_key, reason=reason,
        ).id
    if voucher_part:
        orders.record_refund(session=session, order_id=order.id, amount=voucher_part,
                             reference=f"staff-refund-{refund.id}", reason=reason)
    if store_credit:
        refund.store_credit_voucher_id = _give_store_credit(session, actor, order, refund).id
    if restock:
        _restock(session, actor, order, refund, items)
    _recorded(session, actor, order, refund, settled.refunded)
    orders.email_customer(session=session, order=order, dedupe_key=f"order-refund:{refund.id}",
                          message=emails.refunded(
                              order, card_amount=card_part, voucher_amount=voucher_part,
                              store_credit_amount=store_credit,
                              items=[f"{item.quantity} x {item.line.name}" for item in items]))
    return refund


def _give_store_credit(session: Session, actor: User, order: Order,
                       refund: OrderRefund) -> Voucher:
    """The refund as a money gift voucher for whoever placed the order, emailed to them (its
    code only there). It is not the order's purchase: refunding the order's own voucher lines
    never voids it."""
    voucher = voucher_services.issue(
        session=session, kind="money", value=order.money(refund.store_credit_amount),
        recipient_email=order.email, staff_user_id=actor.id, source="store_credit",
        message=f"Store credit: the refund for order {order.number}.",
        note=f"store credit: refund {refund.id} of order {order.number}",
    ).voucher
    voucher_delivery.queue_delivery(session=session, voucher=voucher)
    return voucher


def _recorded(session: Session, actor: User, order: Order, refund: OrderRefund,
              refunded_before: int) -> None:
    details = {
        "refund_id": refund.id, "amount": refund.amount, "card_amount": refund.card_amount,
        "voucher_amount": refund.voucher_amount,
        "store_credit_amount": refund.store_credit_amount,
        "store_credit_voucher_id": refund.store_credit_voucher_id, "restock": refund.restock,
        "reason": refund.reason,
        "lines": [{"line_id": line.order_line_id, "quantity": line.quantity}
                  for line in refund.lines],
    }
    orders.add_event(order, "staff_refund", staff_user_id=actor.id, **details)
    session.flush()
    audit_record(session=session, actor=actor, action="order.refund", entity="order",
                 entity_id=str(order.id), before={"refunded": refunded_before},
                 after={"refunded": refunded_before + refund.amount, **details})
