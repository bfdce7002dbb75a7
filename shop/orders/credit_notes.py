"""Credit notes: each refund of a paid order as the VAT document that takes back part of its
receipt (HMRC VAT Notice 700, section 18: a refund to the customer reduces the VAT due by the
VAT it gives back, shown on a credit note).

A refund is a staff refund (by lines or by an amount; gift vouchers first, then the card, or
all of it as store credit, a new gift voucher) or a card refund made outside the shop
(automatically, or in Stripe's dashboard). They are numbered in the order they were made,
`<order number>-R1`, `-R2`... A card refund the bank sent back (the payments domain marks it
failed or canceled) stays on the list as `card_refund_failed`: what it credited back to gift
vouchers counts, its card part does not.
Such a failure changes that note only: each note is worked out as things stood when it was
made, so a note once issued never changes because an earlier refund failed later.

Each note shows the VAT it takes back at each rate (`vat_by_rate`), as section 18 asks: what
is still paid and the VAT in it are followed rate by rate, from the lines as sold (after
their part of the discount) and delivery.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from shop.admin.models import OrderRefund
from shop.carts.pricing import shares
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
    card_failed_at: datetime | None = None  # when the bank sent it back; None: at once
    store_credit: int = 0  # given as a new gift voucher instead

    @property
    def amount(self) -> int:
        return self.card_amount + self.voucher_amount + self.store_credit

    @property
    def paid_back(self) -> int:
        return (self.voucher_amount + self.store_credit
                + (0 if self.card_failed else self.card_amount))


@dataclass(frozen=True)
class CreditNoteLine:
    line_id: int
    sku: str
    name: str
    quantity: int
    amount: Money


@dataclass(frozen=True)
class VatPart:
    """What a credit note paid back at one VAT rate: `net` of VAT, and the `vat`."""

    rate: int
    net: Money
    vat: Money


@dataclass(frozen=True)
class CreditNote:
    credit_note: str
    created_at: datetime
    status: str
    amount: Money
    card_amount: Money
    voucher_amount: Money
    store_credit_amount: Money
    paid_back: Money
    vat: Money  # the VAT it takes back: the sum of vat_by_rate's
    vat_by_rate: tuple[VatPart, ...]  # highest rate first
    lines: tuple[CreditNoteLine, ...]
    staff_refund_id: int | None = None


# Rate -> what is still paid at it and the VAT in that; or what a refund pays back at it and
# the VAT it takes back there
ByRate = dict[int, tuple[int, int]]


def _part(whole: int, part: int, of: int) -> int:
    """whole * part / of, rounded half up: all of `whole` when `part` is all of `of`."""
    return min(whole, (2 * whole * part + of) // (2 * of)) if of > 0 else 0


def _split(amount: int, weights: dict[int, int]) -> dict[int, int]:
    """`amount` shared over the weights in proportion, the pennies left by rounding down going
    to the largest remainders: the parts add up to `amount` (at most the weights' sum), and
    none is more than its weight."""
    whole = sum(weights.values())
    if whole <= 0:
        return dict.fromkeys(weights, 0)
    parts = {key: amount * weight // whole for key, weight in weights.items()}
    largest = sorted(weights, key=lambda key: (amount * weights[key] % whole, key), reverse=True)
    for key in largest[:amount - sum(parts.values())]:
        parts[key] += 1
    return parts


def paid_for_lines(order: Order) -> dict[int, int]:
    """What was paid for each line: its total less its part of the order's discount, shared
    over the products as checkout shared it (gift vouchers bought are never discounted)."""
    products = [line for line in order.lines if line.kind == "product"]
    cut = dict(zip([line.id for line in products],
                   shares([line.line_total_amount for line in products],
                          order.discount_amount or 0), strict=True))
    return {line.id: line.line_total_amount - cut.get(line.id, 0) for line in order.lines}


def _delivery_rate(order: Order, lines_vat: dict[int, int]) -> int:
    """The rate delivery was charged at: the one whose VAT the lines do not account for (the
    lines' highest, when delivery carried no VAT to tell it by)."""
    for row in order.vat_breakdown or ():
        if row["amount"] > lines_vat.get(row["rate"], 0):
            return row["rate"]
    return max(lines_vat, default=0)


def as_sold(order: Order) -> ByRate:
    """What the order was paid at each rate and the VAT in it: its lines after their parts of
    the discount, and delivery (what the total holds beyond the lines)."""
    paid_for = paid_for_lines(order)
    paid: dict[int, int] = defaultdict(int)
    vat: dict[int, int] = defaultdict(int)
    for line in order.lines:
        paid[line.vat_rate] += paid_for[line.id]
        vat[line.vat_rate] += line.vat_amount
    delivery = max(order.total_amount - sum(paid_for.values()), 0)
    delivery_vat = max(order.vat_amount - sum(vat.values()), 0)
    if delivery or delivery_vat:
        rate = _delivery_rate(order, vat)
        paid[rate] += delivery
        vat[rate] += delivery_vat
    return {rate: (paid[rate], vat[rate]) for rate in paid}


def _vat_of_first(line: OrderLine, currency: str, units: int, amount: int) -> int:
    if units >= line.quantity:
        return line.vat_amount  # the last unit closes the line: its VAT, rounding included
    return Money(amount, currency).vat_included(line.vat_rate).amount


def _of_amount(left: ByRate, amount: int) -> ByRate:
    """An amount shared over the rates in proportion to what is still paid at each, taking
    at each rate that share of the VAT still there (all of it with all that is paid at it)."""
    parts = _split(amount, {rate: paid for rate, (paid, _) in left.items()})
    return {rate: (part, _part(left[rate][1], part, left[rate][0]))
            for rate, part in parts.items()}


def _of_lines(order: Order, refund: RefundFacts, before: dict[int, tuple[int, int]],
              left: ByRate) -> ByRate:
    lines = {line.id: line for line in order.lines}
    amounts: dict[int, int] = defaultdict(int)
    vats: dict[int, int] = defaultdict(int)
    for item in refund.lines:
        line, (units, amount) = lines[item.line_id], before.get(item.line_id, (0, 0))
        amounts[line.vat_rate] += item.amount
        vats[line.vat_rate] += (
            _vat_of_first(line, order.currency, units + item.quantity, amount + item.amount)
            - _vat_of_first(line, order.currency, units, amount))
    taken: ByRate = {}
    for rate, back in _split(refund.paid_back, amounts).items():
        paid, vat = left.get(rate, (0, 0))
        taken[rate] = ((paid, vat) if back and back >= paid
                       else (back, _part(min(vats[rate], vat), back, amounts[rate])))
    over = refund.paid_back - sum(paid for paid, _ in taken.values())
    if over:  # an amount refund before took from this rate: the rest comes off the others
        taken = _plus(taken, _of_amount(_less(left, taken), over))
    return taken


def _plus(one: ByRate, other: ByRate) -> ByRate:
    return {rate: (one.get(rate, (0, 0))[0] + other.get(rate, (0, 0))[0],
                   one.get(rate, (0, 0))[1] + other.get(rate, (0, 0))[1])
            for rate in one.keys() | other.keys()}


def _less(left: ByRate, taken: ByRate) -> ByRate:
    return {rate: (paid - taken.get(rate, (0, 0))[0], vat - taken.get(rate, (0, 0))[1])
            for rate, (paid, vat) in left.items()}


def taken_back(order: Order, refund: RefundFacts, *, before: dict[int, tuple[int, int]],
               left: ByRate) -> ByRate:
    """What a refund pays back at each VAT rate and the VAT it takes back there, given the
    order's refunds before it: `before` maps a line id to the units and amount of it refunded
    earlier by refunds that had paid something back (a line refund's amount was worked out
    from them); `left` is what was still paid at each rate and the VAT in it.

    - Lines: the VAT in what the refunded units cost (after the discount's share), at each
      line's rate, counted from the line's first refunded unit; a line's last unit gives back
      the rest of the VAT the line carried, so refunding a line in any steps gives back
      exactly its VAT, with no penny drift (and never more than the VAT still at its rate).
      Paying back all that is still paid at a rate takes back all the VAT left at it; paying
      back more (an amount refund took from that rate before) takes the rest off the other
      rates as an amount would.
    - An amount: shared over the rates in proportion to what is still paid at each (the
      parts add up to it exactly), taking at each rate that share of the VAT still there.
    - A refund that paid back only part of itself (its card refund failed) pays back and
      takes back that part; nothing, when all of it was the failed card part.
    - A refund that pays back all that is left takes back all the VAT left at every rate.
    Nothing still paid nor any VAT still standing ever goes below zero.
    """
    paid_left = sum(paid for paid, _ in left.values())
    if paid_left > 0 and refund.paid_back >= paid_left:
        return dict(left)  # the last of what was paid: the order is left bearing no VAT
    if not refund.lines:
        return _of_amount(left, refund.paid_back)
    return _of_lines(order, refund, before, left)


@dataclass(frozen=True)
class _Standing:
    """When a refund was made: each line's units and amount refunded by the refunds before it
    that paid something back, and what was still paid at each rate with the VAT in it."""

    before: dict[int, tuple[int, int]]
    left: ByRate


def _standings(order: Order, refunds: Sequence[RefundFacts]) -> list[_Standing]:
    """The standing each refund was made in, counting the refunds before it as they stood
    then. A card refund the bank sent back later changes its own note, never the later notes
    already issued (and a line refund's amount was worked out leaving out the refunds that
    had paid back nothing by then, as staff refunds count lines)."""
    standings: list[_Standing] = []
    for index, refund in enumerate(refunds):
        before: dict[int, tuple[int, int]] = {}
        left = as_sold(order)
        earlier = as_known_at(refunds[:index], as_utc(refund.created_at))
        for fact, standing in zip(earlier, standings, strict=True):
            left = _less(left, taken_back(order, fact, before=standing.before,
                                          left=standing.left))
            if fact.paid_back:
                for item in fact.lines:
                    units, amount = before.get(item.line_id, (0, 0))
                    before[item.line_id] = (units + item.quantity, amount + item.amount)
        standings.append(_Standing(before, left))
    return standings


def credit_notes(order: Order, refunds: Sequence[RefundFacts]) -> list[CreditNote]:
    """The order's refunds, oldest first, as numbered credit notes with the VAT each takes
    back, by rate. No database: the facts come from `refunds_of`."""
    lines = {line.id: line for line in order.lines}
    notes = []
    for number, (refund, standing) in enumerate(zip(refunds, _standings(order, refunds),
                                                    strict=True), 1):
        taken = taken_back(order, refund, before=standing.before, left=standing.left)
        notes.append(CreditNote(
            credit_note=f"{order.number}-R{number}", created_at=refund.created_at,
            status="card_refund_failed" if refund.paid_back < refund.amount else "refunded",
            amount=order.money(refund.amount), card_amount=order.money(refund.card_amount),
            voucher_amount=order.money(refund.voucher_amount),
            store_credit_amount=order.money(refund.store_credit),
            paid_back=order.money(refund.paid_back),
            vat=order.money(sum(vat for _, vat in taken.values())),
            vat_by_rate=tuple(VatPart(rate, order.money(paid - vat), order.money(vat))
                              for rate, (paid, vat) in sorted(taken.items(), reverse=True)
                              if paid or vat),
            lines=tuple(CreditNoteLine(item.line_id, lines[item.line_id].sku,
                                       lines[item.line_id].name, item.quantity,
                                       order.money(item.amount)) for item in refund.lines),
            staff_refund_id=refund.staff_refund_id,
        ))
    return notes


def as_known_at(refunds: Sequence[RefundFacts], moment: datetime) -> list[RefundFacts]:
    """The refunds made by `moment`, as they stood then: a card refund the bank sent back
    after it still counted."""
    return [replace(fact, card_failed=fact.card_failed and (
        fact.card_failed_at is None or as_utc(fact.card_failed_at) <= moment))
        for fact in refunds if as_utc(fact.created_at) <= moment]


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
    facts = []
    for refund in staff:
        row = card.get(refund.payment_refund_id or 0)
        facts.append(RefundFacts(
            refund.created_at, refund.card_amount, refund.voucher_amount,
            card_failed=row is not None and not row.counts,
            card_failed_at=row.failed_at if row is not None else None,
            lines=tuple(RefundedLine(line.order_line_id, line.quantity, line.amount)
                        for line in refund.lines),
            staff_refund_id=refund.id, store_credit=refund.store_credit_amount,
        ))
    made_by_staff = {refund.payment_refund_id for refund in staff}
    facts += [RefundFacts(row.created_at, row.amount, 0, card_failed=not row.counts,
                          card_failed_at=row.failed_at)
              for row in card.values() if row.id not in made_by_staff]
    return sorted(facts, key=lambda fact: as_utc(fact.created_at))  # stable: ids break ties


def for_order(*, session: Session, order: Order) -> list[CreditNote]:
    """The order's credit notes. An order whose timeline shows no refund had none, and costs
    no query: most orders, read on every order page."""
    if order.paid_at is None or REFUND_EVENTS.isdisjoint(event.type for event in order.events):
        return []
    return credit_notes(order, refunds_of(session, order.id))
