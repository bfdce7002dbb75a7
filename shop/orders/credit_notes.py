"""Credit notes: each refund of a paid order as the VAT document that takes back part of its
receipt (HMRC VAT Notice 700, section 18: a refund to the customer reduces the VAT due by the
VAT it gives back, shown on a credit note).

A refund is a staff refund (by lines or by an amount; gift vouchers first, then the card) or
a card refund made outside the shop (automatically, or in Stripe's dashboard). They are
numbered in the order they were made, `<order number>-R1`, `-R2`... A card refund the bank
sent back (the payments domain marks it failed or canceled) stays on the list as
`card_refund_failed`: what it credited back to gift vouchers counts, its card part does not.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from shop.admin.models import OrderRefund
from shop.db import as_utc
from shop.money import Money
from shop.orders.models import Order, OrderLine
from shop.payments.models import Refund

# Every refund that pays something back writes one of these on the order's timeline, in its
# own transaction (a card refund made in Stripe's dashboard that failed at once writes none)
REFUND_EVENTS = frozenset({"staff_refund", "refunded", "refund_failed"})


@dataclass(frozen=True)
class RefundedLine:
    line_id: int
    quantity: int
    amount: int


@dataclass(frozen=True)
class RefundFacts:
    """A refund as it was recorded, amounts in the order's minor units."""

    created_at: datetime
    card_amount: int
    voucher_amount: int
    card_failed: bool = False
    lines: tuple[RefundedLine, ...] = ()
    staff_refund_id: int | None = None

    @property
    def amount(self) -> int:
        return self.card_amount + self.voucher_amount

    @property
    def paid_back(self) -> int:
        return self.voucher_amount + (0 if self.card_failed else self.card_amount)


@dataclass(frozen=True)
class CreditNoteLine:
    line_id: int
    sku: str
    name: str
    quantity: int
    amount: Money


@dataclass(frozen=True)
class CreditNote:
    credit_note: str
    created_at: datetime
    status: str
    amount: Money
    card_amount: Money
    voucher_amount: Money
    paid_back: Money
    vat: Money  # the VAT it takes back
    lines: tuple[CreditNoteLine, ...]
    staff_refund_id: int | None = None


def _part(whole: int, part: int, of: int) -> int:
    """whole * part / of, rounded half up: all of `whole` when `part` is all of `of`."""
    return min(whole, (2 * whole * part + of) // (2 * of)) if of > 0 else 0


def _vat_of_first(line: OrderLine, currency: str, units: int, amount: int) -> int:
    if units >= line.quantity:
        return line.vat_amount  # the last unit closes the line: its VAT, rounding included
    return Money(amount, currency).vat_included(line.vat_rate).amount


def refund_vat(order: Order, refund: RefundFacts, *, before: dict[int, tuple[int, int]],
               paid_left: int, vat_left: int) -> int:
    """The VAT a refund takes back, given the order's refunds before it: `before` maps a line
    id to the units and amount of it refunded earlier, failed or not (a line refund's amount
    was worked out from them); `paid_left` and `vat_left` are what the order still stands at.

    - Lines: the VAT in what the refunded units cost (after the discount's share), at each
      line's rate, counted from the line's first refunded unit; a line's last unit gives back
      the rest of the VAT the line carried, so refunding a line in any steps gives back
      exactly its VAT, with no penny drift (and never more than the VAT still on the order).
    - An amount: the VAT still on the order in proportion to what is still paid for it (the
      order's VAT mix after the refunds before). Refunding all that is left takes back
      exactly the VAT left, and the net VAT never goes below zero.
    - A refund that paid back only part of itself (its card refund failed) takes back that
      part of its VAT; nothing, when all of it was the failed card part.
    - A refund that pays back all that is left takes back all the VAT left, whatever the
      refunds before it took: with lines at different rates (a 0% money voucher beside a
      20% serum) an amount refund's share by the order's mix is only an estimate.
    """
    if paid_left > 0 and refund.paid_back >= paid_left:
        return vat_left  # the last of what was paid: the order is left bearing no VAT
    if not refund.lines:
        return _part(vat_left, refund.paid_back, paid_left)
    lines = {line.id: line for line in order.lines}
    vat = 0
    for item in refund.lines:
        units, amount = before.get(item.line_id, (0, 0))
        line = lines[item.line_id]
        vat += (_vat_of_first(line, order.currency, units + item.quantity, amount + item.amount)
                - _vat_of_first(line, order.currency, units, amount))
    return _part(min(vat, vat_left), refund.paid_back, refund.amount)


def credit_notes(order: Order, refunds: Sequence[RefundFacts]) -> list[CreditNote]:
    """The order's refunds, oldest first, as numbered credit notes with the VAT each takes
    back. No database: the facts come from `refunds_of`."""
    before: dict[int, tuple[int, int]] = {}
    paid_left, vat_left = order.total_amount, order.vat_amount
    lines = {line.id: line for line in order.lines}
    notes = []
    for number, refund in enumerate(refunds, 1):
        vat = refund_vat(order, refund, before=before, paid_left=paid_left, vat_left=vat_left)
        paid_left, vat_left = paid_left - refund.paid_back, vat_left - vat
        for item in refund.lines:
            units, amount = before.get(item.line_id, (0, 0))
            before[item.line_id] = (units + item.quantity, amount + item.amount)
        notes.append(CreditNote(
            credit_note=f"{order.number}-R{number}", created_at=refund.created_at,
            status="card_refund_failed" if refund.paid_back < refund.amount else "refunded",
            amount=order.money(refund.amount), card_amount=order.money(refund.card_amount),
            voucher_amount=order.money(refund.voucher_amount),
            paid_back=order.money(refund.paid_back), vat=order.money(vat),
            lines=tuple(CreditNoteLine(item.line_id, lines[item.line_id].sku,
                                       lines[item.line_id].name, item.quantity,
                                       order.money(item.amount)) for item in refund.lines),
            staff_refund_id=refund.staff_refund_id,
        ))
    return notes


def net(order: Order, notes: Sequence[CreditNote]) -> tuple[Money, Money]:
    """What the order was paid and the VAT it bears, after its refunds."""
    return (order.money(order.total_amount - sum(note.paid_back.amount for note in notes)),
            order.money(order.vat_amount - sum(note.vat.amount for note in notes)))


def refunds_of(session: Session, order_id: int) -> list[RefundFacts]:
    """Staff refunds (with the status of their card part) and the card refunds made outside
    the shop, in the order they were made."""
    card = {row.id: row for row in session.scalars(
        select(Refund).where(Refund.order_id == order_id).order_by(Refund.id))}
    staff = session.scalars(
        select(OrderRefund).where(OrderRefund.order_id == order_id)
        .options(selectinload(OrderRefund.lines)).order_by(OrderRefund.id)
    ).all()
    facts = [RefundFacts(
        refund.created_at, refund.card_amount, refund.voucher_amount,
        card_failed=refund.payment_refund_id in card and not card[refund.payment_refund_id].counts,
        lines=tuple(RefundedLine(line.order_line_id, line.quantity, line.amount)
                    for line in refund.lines),
        staff_refund_id=refund.id,
    ) for refund in staff]
    made_by_staff = {refund.payment_refund_id for refund in staff}
    facts += [RefundFacts(row.created_at, row.amount, 0, card_failed=not row.counts)
              for row in card.values() if row.id not in made_by_staff]
    return sorted(facts, key=lambda fact: as_utc(fact.created_at))  # stable: ids break ties


def for_order(*, session: Session, order: Order) -> list[CreditNote]:
    """The order's credit notes. An order whose timeline shows no refund had none, and costs
    no query: most orders, read on every order page."""
    if order.paid_at is None or REFUND_EVENTS.isdisjoint(event.type for event in order.events):
        return []
    return credit_notes(order, refunds_of(session, order.id))
