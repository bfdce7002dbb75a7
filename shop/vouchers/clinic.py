"""Staff operations on a voucher found by its code: redeem, void, extend. Each is audited."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from shop.accounts.models import User
from shop.audit import record as audit_record
from shop.db import as_utc
from shop.errors import ValidationFailed
from shop.money import Money
from shop.vouchers import services
from shop.vouchers.models import Voucher, VoucherTransaction


def snapshot(voucher: Voucher) -> dict:
    return {
        "status": voucher.status, "balance_amount": voucher.balance_amount,
        "held_amount": voucher.held_amount, "expires_at": as_utc(voucher.expires_at),
        "frozen": voucher.frozen, "currency": voucher.currency,
    }


def _audited(session: Session, voucher: Voucher, staff: User, action: str, before: dict) -> None:
    session.refresh(voucher)
    audit_record(session=session, actor=staff, action=action, entity="voucher",
                 entity_id=str(voucher.id), before=before, after=snapshot(voucher))


def redeem(
    *, session: Session, code: str, staff: User, treatment: str | None = None,
    top_up: Money | None = None, amount: Money | None = None, note: str = "",
) -> tuple[Voucher, list[VoucherTransaction]]:
    """A treatment voucher takes `treatment` (+ `top_up`); a money voucher `amount` (+ `note`)."""
    voucher = services.get_by_code(session=session, code=code)
    before = snapshot(voucher)
    if voucher.kind == "treatment":
        if treatment is None or amount is not None:
            raise ValidationFailed("A treatment voucher is redeemed for a treatment.", errors={
                "treatment": ["Give the treatment's slug (and a top-up if it is dearer)."]})
        entries = services.redeem_treatment(
            session=session, voucher=voucher, treatment_slug=treatment, top_up=top_up, staff=staff)
    else:
        if amount is None or treatment is not None or top_up is not None:
            raise ValidationFailed("A money voucher is redeemed for an amount.", errors={
                "amount": ["Give the amount to take off the balance."]})
        entries = [services.redeem_money(
            session=session, voucher=voucher, amount=amount, note=note or "spent at the clinic",
            staff=staff)]
    _audited(session, voucher, staff, "voucher.redeem", before)
    return voucher, entries


def void(*, session: Session, code: str, staff: User, reason: str) -> Voucher:
    voucher = services.get_by_code(session=session, code=code)
    before = snapshot(voucher)
    services.void(session=session, voucher=voucher, reason=reason, staff=staff)
    _audited(session, voucher, staff, "voucher.void", before)
    return voucher


def extend(
    *, session: Session, code: str, staff: User, expires_at: datetime | None = None,
    months: int | None = None, note: str = "",
) -> Voucher:
    voucher = services.get_by_code(session=session, code=code)
    before = snapshot(voucher)
    services.extend(session=session, voucher=voucher, staff=staff, expires_at=expires_at,
                    months=months, note=note)
    _audited(session, voucher, staff, "voucher.extend", before)
    return voucher
