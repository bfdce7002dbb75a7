"""Worker jobs for accounts: expired tokens are deleted (their families stay, as the record
of past sign-ins that the data export shows); password reset requests are answered by email;
reset and email-change codes are deleted a day after they are used or expire."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from shop.accounts import password_reset
from shop.accounts.models import AuthToken, EmailChange, PasswordReset
from shop.worker import job

# A day's grace: a refresh token presented just after expiry still finds its row and gets
# a clear "expired" answer rather than "unknown".
EXPIRED_TOKEN_GRACE = timedelta(days=1)
BATCH_SIZE = 1000
KEEP_FINISHED_CODES = timedelta(days=1)


@job("purge_expired_tokens", every_seconds=3600)
def purge_expired_tokens(*, session: Session, now: datetime) -> int:
    """Delete up to BATCH_SIZE tokens that expired more than a day ago."""
    ids = session.scalars(
        select(AuthToken.id)
        .where(AuthToken.expires_at < now - EXPIRED_TOKEN_GRACE)
        .order_by(AuthToken.id)
        .limit(BATCH_SIZE)
        .with_for_update(skip_locked=True)
    ).all()
    if ids:
        session.execute(delete(AuthToken).where(AuthToken.id.in_(ids)))
    return len(ids)


@job("accounts.password_resets", every_seconds=2, setting="PASSWORD_RESET_SEND_EVERY_SECONDS")
def send_password_resets(*, session: Session, now: datetime) -> int:
    """Mail a reset link for each waiting request whose address an active account has."""
    return password_reset.send_reset_emails(session=session, now=now, limit=BATCH_SIZE)


@job("accounts.purge_mailed_codes", every_seconds=3600)
def purge_mailed_codes(*, session: Session, now: datetime) -> int:
    """Delete up to BATCH_SIZE password resets and email changes of each kind that were used
    or expired more than a day ago (a day's record of recent ones, which the export shows)."""
    cutoff = now - KEEP_FINISHED_CODES
    purged = 0
    for model in (PasswordReset, EmailChange):
        ids = session.scalars(
            select(model.id).where(or_(model.used_at < cutoff, model.expires_at < cutoff))
            .order_by(model.id).limit(BATCH_SIZE).with_for_update(skip_locked=True)
        ).all()
        if ids:
            session.execute(delete(model).where(model.id.in_(ids)))
        purged += len(ids)
    return purged
