"""Worker jobs: expire vouchers past their date; remind holders 30 and 7 days before."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from shop.db import as_utc
from shop.vouchers import delivery
from shop.vouchers.models import Voucher
from shop.vouchers.services import change
from shop.worker import job

REMINDER_DAYS = (7, 30)  # smallest first: a voucher already within 7 days gets only that one
BATCH = 500


def _claim(session: Session, *conditions) -> list[int]:
    """Ids of matching vouchers, row-locked; rows another worker holds are skipped."""
    stmt = (
        select(Voucher.id).where(*conditions).order_by(Voucher.id).limit(BATCH)
        .with_for_update(skip_locked=True)
    )
    return list(session.scalars(stmt))


@job("vouchers.expire", every_seconds=600)
def expire_vouchers(*, session: Session, now: datetime) -> int:
    """Active vouchers past their expiry become expired (their balance stays, for extensions)."""
    expired = 0
    for voucher_id in _claim(session, Voucher.status == "active", Voucher.expires_at <= now):
        entry = change(
            session=session, voucher_id=voucher_id, kind="expiry",
            guard=[Voucher.status == "active", Voucher.expires_at <= now], status="expired",
            note="expired",
        )
        expired += entry is not None
    return expired


@job("vouchers.expiry_reminders", every_seconds=3600)
def send_expiry_reminders(*, session: Session, now: datetime) -> int:
    """Queue an "expires soon" email at 30 and at 7 days before expiry, once each."""
    queued = 0
    for days in REMINDER_DAYS:
        not_yet = (Voucher.reminder_sent_days.is_(None)
                   | (Voucher.reminder_sent_days > days))
        ids = _claim(
            session, Voucher.status == "active", Voucher.frozen.is_(False),
            Voucher.balance_amount > 0, Voucher.expires_at > now,
            Voucher.expires_at <= now + timedelta(days=days), not_yet,
        )
        for voucher in session.scalars(select(Voucher).where(Voucher.id.in_(ids))):
            left = max((as_utc(voucher.expires_at) - now).days, 1)
            delivery.queue_reminder(session=session, voucher=voucher, days=left,
                                    threshold=days)
            voucher.reminder_sent_days = days
            queued += 1
    session.flush()
    return queued
