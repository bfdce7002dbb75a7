"""Money vouchers spent in the web shop: held at checkout, debited when paid, released if not.

A hold sets part of the balance aside (held_amount) without spending it; capturing it debits
the balance, releasing it gives it back. Each hold is settled at most once: the settling
ledger row points at it through a UNIQUE hold_id, so a replayed "paid" or "expired" cannot
capture or release twice. Rows are locked in primary-key order (as saleor does for gift
cards) so two orders holding the same vouchers cannot deadlock.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Protocol

from sqlalchemy import Select, bindparam, case, func, select
from sqlalchemy.orm import Session, aliased

from shop.db import utcnow
from shop.errors import Conflict, ValidationFailed
from shop.vouchers.models import Voucher, VoucherTransaction
from shop.vouchers.services import (
    change,
    effective_status,
    lookup_hashes,
    redeemed_when_empty,
    spendable,
)

NOT_USABLE = "This voucher code cannot be used."


class OrderLike(Protocol):
    id: int
    currency: str
    total_amount: int


def usable_for_payment(voucher: Voucher | None, currency: str, now: datetime) -> bool:
    return (
        voucher is not None and voucher.kind == "money" and voucher.currency == currency
        and effective_status(voucher, now) == "active" and not voucher.frozen
        and voucher.balance_amount - voucher.held_amount > 0
    )


def refuse_code(field: str = "code") -> ValidationFailed:
    """One answer for unknown, expired, void, used-up and wrong-currency codes alike."""
    return ValidationFailed(NOT_USABLE, code="voucher_not_usable", errors={field: [NOT_USABLE]})


def _lock(session: Session, condition) -> list[Voucher]:
    """Vouchers matching `condition`, row-locked in primary-key order (fresh from the DB)."""
    stmt = (
        select(Voucher).where(condition).order_by(Voucher.id)
        .with_for_update(of=Voucher).execution_options(populate_existing=True)
    )
    return list(session.scalars(stmt).unique())


def hold_for_order(*, session: Session, order: OrderLike, codes: Sequence[str],
                   now: datetime | None = None) -> int:
    """Hold the vouchers' share of the order total, in the order the codes were given.

    Returns the amount held; the card pays the rest. Calling it again for the same order
    returns what is already held.
    """
    digests = [lookup_hashes(code) for code in codes]
    every_digest = [digest for each in digests for digest in each]
    by_digest = {v.code_hash: v for v in _lock(session, Voucher.code_hash.in_(every_digest))}
    found = [next((by_digest[d] for d in each if d in by_digest), None) for each in digests]
    if None in found:
        raise refuse_code()
    ordered = list(dict.fromkeys(found))
    return hold_vouchers(session=session, order=order, vouchers=ordered,
                         limit=order.total_amount, now=now)


def hold_vouchers(*, session: Session, order: OrderLike, vouchers: Sequence[Voucher],
                  limit: int, now: datetime | None = None) -> int:
    """Hold up to `limit` from the vouchers, taking from each in turn. Returns the amount held."""
    now = now or utcnow()
    already = held_total(session=session, order_id=order.id)
    if already or not vouchers:
        return already
    locked = {v.id: v for v in _lock(session, Voucher.id.in_([v.id for v in vouchers]))}
    remaining = limit
    for voucher in (locked.get(v.id) for v in vouchers):
        if not usable_for_payment(voucher, order.currency, now):
            raise refuse_code()
        share = min(voucher.balance_amount - voucher.held_amount, remaining)
        if share <= 0:
            continue
        entry = change(
            session=session, voucher_id=voucher.id, kind="hold", held_change=share,
            guard=spendable(share, now), order_id=order.id, note="held at checkout",
        )
        if entry is None:
            raise Conflict("A voucher's balance changed during checkout; try again.",
                           code="voucher_balance_changed")
        remaining -= share
    return limit - remaining


def take_again(*, session: Session, order: OrderLike, amount: int) -> int:
    """Paid after its holds were released (a late payment): debit the same vouchers again, as
    far as they still can pay. Returns the amount debited."""
    released = select(VoucherTransaction.voucher_id).where(
        VoucherTransaction.order_id == order.id, VoucherTransaction.kind == "hold")
    remaining = amount
    for voucher in _lock(session, Voucher.id.in_(released)):
        share = min(voucher.balance_amount - voucher.held_amount, remaining)
        if share <= 0 or voucher.frozen or voucher.status == "void":
            continue
        entry = change(
            session=session, voucher_id=voucher.id, kind="debit", amount=-share,
            guard=[Voucher.status != "void", Voucher.frozen.is_(False),
                   Voucher.balance_amount - Voucher.held_amount >= share],
            status=redeemed_when_empty(-share), order_id=order.id,
            note="order paid after its hold was released",
        )
        remaining -= share if entry is not None else 0
    return amount - remaining


@cache  # built once, on first use: building it (an aliased self-join) cost more than running
def _outstanding_holds() -> Select:  # it (a profile of the payment webhook)
    settlement = aliased(VoucherTransaction)
    return (
        select(VoucherTransaction)
        .where(VoucherTransaction.order_id == bindparam("order_id"),
               VoucherTransaction.kind == "hold",
               ~select(settlement.id).where(settlement.hold_id == VoucherTransaction.id)
               .exists())
        .order_by(VoucherTransaction.voucher_id, VoucherTransaction.id)
    )


def outstanding_holds(*, session: Session, order_id: int) -> list[VoucherTransaction]:
    """This order's holds not yet captured or released, by voucher id (the lock order)."""
    return list(session.scalars(_outstanding_holds(), {"order_id": order_id}))


def held_total(*, session: Session, order_id: int) -> int:
    return sum(hold.held_change for hold in outstanding_holds(session=session, order_id=order_id))


def capture_holds(*, session: Session, order: OrderLike) -> int:
    """The order is paid: each outstanding hold becomes a debit. Returns the amount debited."""
    captured = 0
    for hold in outstanding_holds(session=session, order_id=order.id):
        amount = hold.held_change
        change(
            session=session, voucher_id=hold.voucher_id, kind="debit", amount=-amount,
            held_change=-amount, status=redeemed_when_empty(-amount), order_id=order.id,
            hold_id=hold.id, note="order paid",
        )
        captured += amount
    return captured


def release_holds(*, session: Session, order: OrderLike, note: str = "order not paid") -> int:
    """Payment failed or the reservation expired: the held amounts are spendable again."""
    released = 0
    for hold in outstanding_holds(session=session, order_id=order.id):
        change(
            session=session, voucher_id=hold.voucher_id, kind="release",
            held_change=-hold.held_change, order_id=order.id, hold_id=hold.id, note=note,
        )
        released += hold.held_change
    return released


def _spent_per_voucher(session: Session, order_id: int) -> list[tuple[int, int]]:
    """(voucher id, net amount this order took from it), latest-spent voucher first."""
    net = func.sum(VoucherTransaction.amount)
    stmt = (
        select(VoucherTransaction.voucher_id, net)
        .where(VoucherTransaction.order_id == order_id,
               VoucherTransaction.kind.in_(("debit", "refund_credit")))
        .group_by(VoucherTransaction.voucher_id)
        .order_by(func.max(VoucherTransaction.id).desc())
    )
    return [(voucher_id, -total) for voucher_id, total in session.execute(stmt) if total < 0]


def credit_back(*, session: Session, order: OrderLike, amount: int, note: str = "order refunded"
                ) -> int:
    """Refund up to `amount` to the vouchers that paid for the order; returns what was credited.

    The card gets the rest. A void voucher is never credited (its value is gone for good).
    """
    remaining = amount
    for voucher_id, spent in _spent_per_voucher(session, order.id):
        credit = min(spent, remaining)
        if credit <= 0:
            break
        reactivated = case((Voucher.status == "redeemed", "active"), else_=Voucher.status)
        entry = change(
            session=session, voucher_id=voucher_id, kind="refund_credit", amount=credit,
            guard=[Voucher.status != "void"], status=reactivated, order_id=order.id, note=note,
        )
        if entry is not None:
            remaining -= credit
    return amount - remaining
