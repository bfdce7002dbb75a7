"""The voucher ledger: issue, look up, spend, redeem, void, extend, freeze.

Every change is one conditional UPDATE of the voucher row plus one ledger row. The UPDATE's
WHERE clause carries the rule (enough left to spend, still active, not frozen...), so on
PostgreSQL concurrent spenders queue on the row lock and re-check the rule against the
committed balance, and on SQLite writers are serialised anyway: no interleaving can take a
balance below zero. The CHECK constraints on the table are the last line of defence.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from flask import current_app
from sqlalchemy import ColumnElement, case, select, update
from sqlalchemy.orm import Session

from shop import keyring
from shop.accounts.models import User
from shop.catalogue.models import Treatment, Variant
from shop.db import as_utc, utcnow
from shop.errors import Conflict, NotFound, ValidationFailed
from shop.money import Money
from shop.vouchers import codes
from shop.vouchers.models import Voucher, VoucherTransaction


@dataclass(frozen=True)
class IssuedVoucher:
    voucher: Voucher
    code: str  # normalised; only the issuer ever sees it in clear


def secret() -> str:
    return current_app.config["VOUCHER_KEY"]


def add_months(moment: datetime, months: int) -> datetime:
    """The same time `months` later; the 31st becomes the last day of a shorter month."""
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def voucher_vat_rate(*, variant: Variant, standard_rate: int) -> int:
    """The VAT rate of a voucher line when the voucher is sold (UK rules).

    A money voucher is a multi-purpose voucher: no VAT when sold, VAT when it is spent on
    goods. A treatment voucher is a single-purpose voucher: VAT at the treatment's rate when
    sold (treatments are standard-rated), none again when redeemed.
    """
    if variant.voucher_kind == "money":
        return 0
    return standard_rate


def code_for(voucher: Voucher) -> str:
    """The full code, decrypted: for the buyer's order view, emails and PDFs only."""
    return codes.decrypt_with_any(voucher.code_encrypted, secrets=keyring.voucher_secrets())[0]


def issue(
    *,
    session: Session,
    kind: str,
    value: Money,
    treatment: Treatment | None = None,
    recipient_name: str = "",
    recipient_email: str | None = None,
    purchaser_email: str | None = None,
    message: str = "",
    send_on: date | None = None,
    order_id: int | None = None,
    order_line_id: int | None = None,
    staff_user_id: int | None = None,
    note: str = "issued",
    source: str | None = None,
    now: datetime | None = None,
) -> IssuedVoucher:
    """Create a voucher with a fresh random code and its `issue` ledger row. `source`: bought
    (the default, with an order line) or given by the clinic (without), or store credit."""
    if (kind == "treatment") != (treatment is not None):
        raise ValueError("a treatment voucher needs a treatment, a money voucher none")
    now = now or utcnow()
    code = codes.generate_code()
    voucher = Voucher(
        kind=kind, treatment=treatment, code_hash=codes.lookup_hash(code, secret=secret()),
        code_encrypted=codes.encrypt(code, secret=secret()), code_last4=codes.last4(code),
        currency=value.currency, initial_amount=value.amount, balance_amount=value.amount,
        held_amount=0, status="active", frozen=False,
        expires_at=add_months(now, current_app.config["VOUCHER_VALIDITY_MONTHS"]),
        recipient_name=recipient_name, recipient_email=recipient_email,
        purchaser_email=purchaser_email, message=message, send_on=send_on,
        order_id=order_id, order_line_id=order_line_id, created_at=now,
        source=source or ("purchase" if order_line_id is not None else "clinic_gift"),
    )
    session.add(voucher)
    session.flush()
    session.add(VoucherTransaction(
        voucher_id=voucher.id, kind="issue", amount=value.amount, held_change=0,
        balance_after=value.amount, held_after=0, currency=value.currency, order_id=order_id,
        staff_user_id=staff_user_id, note=note, created_at=now,
    ))
    session.flush()
    return IssuedVoucher(voucher, code)


def lookup_hashes(code: str) -> list[str]:
    """The code's keyed hash under VOUCHER_KEY and under each fallback (a code issued before
    a rotation and not yet re-keyed is stored under an earlier key)."""
    return [codes.lookup_hash(code, secret=each) for each in keyring.voucher_secrets()]


def find_by_code(*, session: Session, code: str) -> Voucher | None:
    """One indexed query on the keyed hashes, whatever the input: no early exits to time."""
    return session.scalar(select(Voucher).where(Voucher.code_hash.in_(lookup_hashes(code))))


def get_by_code(*, session: Session, code: str) -> Voucher:
    voucher = find_by_code(session=session, code=code)
    if voucher is None:
        raise NotFound("No voucher with that code.", code="voucher_not_found")
    return voucher


def effective_status(voucher: Voucher, now: datetime | None = None) -> str:
    """The status a reader should see: an active voucher past its expiry is expired."""
    if voucher.status == "active" and as_utc(voucher.expires_at) <= (now or utcnow()):
        return "expired"
    return voucher.status


def ledger(*, session: Session, voucher: Voucher) -> list[VoucherTransaction]:
    stmt = select(VoucherTransaction).where(VoucherTransaction.voucher_id == voucher.id)
    return list(session.scalars(stmt.order_by(VoucherTransaction.id)))


def change(
    *,
    session: Session,
    voucher_id: int,
    kind: str,
    amount: int = 0,
    held_change: int = 0,
    guard: Sequence[ColumnElement[bool]] = (),
    status: ColumnElement | str | None = None,
    values: dict | None = None,
    **ledger_fields,
) -> VoucherTransaction | None:
    """Apply one ledger entry if `guard` holds on the current row; None if it does not."""
    assignments = {
        Voucher.balance_amount: Voucher.balance_amount + amount,
        Voucher.held_amount: Voucher.held_amount + held_change,
        Voucher.updated_at: utcnow(),
        **{getattr(Voucher, name): value for name, value in (values or {}).items()},
    }
    if status is not None:
        assignments[Voucher.status] = status
    row = session.execute(
        update(Voucher)
        .where(Voucher.id == voucher_id, *guard)
        .values(assignments)
        .returning(Voucher.balance_amount, Voucher.held_amount, Voucher.currency)
        .execution_options(synchronize_session=False)
    ).one_or_none()
    if row is None:
        return None
    entry = VoucherTransaction(
        voucher_id=voucher_id, kind=kind, amount=amount, held_change=held_change,
        balance_after=row.balance_amount, held_after=row.held_amount, currency=row.currency,
        **ledger_fields,
    )
    session.add(entry)
    session.flush()
    _expire_cached(session, voucher_id)
    return entry


def _expire_cached(session: Session, voucher_id: int) -> None:
    cached = session.identity_map.get(session.identity_key(Voucher, (voucher_id,)))
    if cached is not None:
        session.expire(cached)


def spendable(amount: int, now: datetime) -> list[ColumnElement[bool]]:
    """The rule for taking `amount` from a money voucher, as SQL evaluated under the row lock."""
    return [
        Voucher.kind == "money",
        Voucher.status == "active",
        Voucher.frozen.is_(False),
        Voucher.expires_at > now,
        Voucher.balance_amount - Voucher.held_amount >= amount,
    ]


def redeemed_when_empty(amount: int) -> ColumnElement:
    """Status after taking `amount` off the balance: redeemed once nothing is left."""
    return case((Voucher.balance_amount + amount == 0, "redeemed"), else_=Voucher.status)


def refuse_unusable(voucher: Voucher, *, now: datetime, kind: str) -> None:
    """Explain to staff why a voucher cannot be used (the till needs the real reason)."""
    if voucher.kind != kind:
        raise Conflict(f"This is a {voucher.kind} voucher.", code="voucher_wrong_kind")
    status = effective_status(voucher, now)
    if status != "active":
        raise Conflict(f"This voucher is {status}.", code=f"voucher_{status}")
    if voucher.frozen:
        raise Conflict("This voucher is frozen while a payment dispute is open.",
                       code="voucher_frozen")


def redeem_money(
    *, session: Session, voucher: Voucher, amount: Money, note: str, staff: User,
    now: datetime | None = None,
) -> VoucherTransaction:
    """Spend part of a money voucher at the clinic's till."""
    now = now or utcnow()
    refuse_unusable(voucher, now=now, kind="money")
    if amount.currency != voucher.currency or amount.amount <= 0:
        raise ValidationFailed("Invalid amount.", errors={
            "amount": [f"Must be a positive amount in {voucher.currency}."]})
    entry = change(
        session=session, voucher_id=voucher.id, kind="debit", amount=-amount.amount,
        guard=spendable(amount.amount, now), status=redeemed_when_empty(-amount.amount),
        staff_user_id=staff.id, note=note,
    )
    if entry is None:
        session.refresh(voucher)
        refuse_unusable(voucher, now=now, kind="money")
        raise Conflict(
            "The voucher does not have that much left.", code="insufficient_balance",
            available=voucher.available.as_dict(),
        )
    return entry


def required_top_up(voucher: Voucher, chosen: Treatment) -> int:
    """What the holder pays at the desk for a dearer treatment (at today's prices)."""
    return max(chosen.price_amount - voucher.treatment.price_amount, 0)


def redeem_treatment(
    *, session: Session, voucher: Voucher, treatment_slug: str, top_up: Money | None,
    staff: User, now: datetime | None = None,
) -> list[VoucherTransaction]:
    """Redeem a treatment voucher at the clinic, recording a top-up for a dearer treatment."""
    now = now or utcnow()
    refuse_unusable(voucher, now=now, kind="treatment")
    chosen = session.scalar(select(Treatment).where(Treatment.slug == treatment_slug))
    if chosen is None or chosen.status != "active":
        raise ValidationFailed("Unknown treatment.", errors={
            "treatment": [f"No active treatment '{treatment_slug}'."]})
    _check_top_up(voucher, chosen, top_up)
    seen = voucher.balance_amount
    entry = change(
        session=session, voucher_id=voucher.id, kind="redemption", amount=-seen,
        guard=[Voucher.status == "active", Voucher.frozen.is_(False), Voucher.held_amount == 0,
               Voucher.balance_amount == seen, Voucher.expires_at > now],
        status="redeemed", staff_user_id=staff.id, treatment_id=chosen.id,
        note=f"redeemed for {chosen.name}",
    )
    if entry is None:
        raise Conflict("The voucher changed while redeeming it; try again.",
                       code="voucher_changed")
    if top_up is None:
        return [entry]
    return [entry, _top_up_entry(session, voucher, chosen, top_up, staff)]


def _check_top_up(voucher: Voucher, chosen: Treatment, top_up: Money | None) -> None:
    needed = required_top_up(voucher, chosen)
    if top_up is not None and top_up.currency != voucher.currency:
        raise ValidationFailed("Wrong currency.", errors={"top_up": [f"Use {voucher.currency}."]})
    if needed and (top_up is None or top_up.amount < needed):
        raise ValidationFailed(
            f"{chosen.name} costs more than {voucher.treatment.name}: record the top-up paid.",
            code="top_up_required", errors={"top_up": [f"At least {needed} is needed."]},
            required_top_up=Money(needed, voucher.currency).as_dict(),
        )
    if not needed and top_up is not None:
        raise ValidationFailed(
            "No top-up is due for this treatment.", code="top_up_not_needed",
            errors={"top_up": ["Leave it out: the voucher covers this treatment."]},
        )


def _top_up_entry(session, voucher, chosen, top_up: Money, staff: User) -> VoucherTransaction:
    """The money paid at the desk on top of the voucher: recorded, never part of the balance."""
    return change(
        session=session, voucher_id=voucher.id, kind="top_up",
        staff_user_id=staff.id, treatment_id=chosen.id, top_up_amount=top_up.amount,
        note=f"top-up paid at the desk for {chosen.name}",
    )


def void(*, session: Session, voucher: Voucher, reason: str, staff: User | None,
         order_id: int | None = None) -> VoucherTransaction:
    """Cancel a voucher: its balance goes to zero, for good."""
    if voucher.status == "void":
        raise Conflict("This voucher is already void.", code="voucher_void")
    if voucher.held_amount:
        raise Conflict("An order awaiting payment holds part of this voucher; try later.",
                       code="voucher_held")
    seen = voucher.balance_amount
    entry = change(
        session=session, voucher_id=voucher.id, kind="void", amount=-seen,
        guard=[Voucher.status != "void", Voucher.held_amount == 0, Voucher.balance_amount == seen],
        status="void", staff_user_id=staff.id if staff else None, order_id=order_id, note=reason,
    )
    if entry is None:
        raise Conflict("The voucher changed while voiding it; try again.", code="voucher_changed")
    return entry


def extend(
    *, session: Session, voucher: Voucher, staff: User, expires_at: datetime | None = None,
    months: int | None = None, note: str = "", now: datetime | None = None,
) -> VoucherTransaction:
    """Move the expiry later; an expired voucher becomes active again."""
    now = now or utcnow()
    if voucher.status in ("void", "redeemed"):
        raise Conflict(f"This voucher is {voucher.status}.", code=f"voucher_{voucher.status}")
    current = as_utc(voucher.expires_at)
    new = expires_at if expires_at is not None else add_months(max(current, now), months or 0)
    new = as_utc(new)
    if new <= current or new <= now:
        raise ValidationFailed("The new expiry must be later than the current one and than now.",
                               errors={"expires_at": ["Must be in the future and later."]})
    entry = change(
        session=session, voucher_id=voucher.id, kind="extension",
        guard=[Voucher.status.in_(("active", "expired")), Voucher.expires_at == voucher.expires_at],
        status="active", values={"expires_at": new, "reminder_sent_days": None},
        staff_user_id=staff.id,
        note=f"expiry {current:%Y-%m-%d %H:%M} -> {new:%Y-%m-%d %H:%M} UTC. {note}".strip(),
    )
    if entry is None:
        raise Conflict("The voucher changed while extending it; try again.",
                       code="voucher_changed")
    return entry


def set_frozen(*, session: Session, voucher: Voucher, frozen: bool, note: str,
               order_id: int | None = None) -> VoucherTransaction | None:
    """Freeze (dispute opened) or unfreeze (dispute won) a voucher; no-op if already so."""
    return change(
        session=session, voucher_id=voucher.id, kind="freeze" if frozen else "unfreeze",
        guard=[Voucher.frozen.is_(not frozen)], values={"frozen": frozen},
        order_id=order_id, note=note,
    )
