"""Worker jobs for accounts: expired tokens are deleted (their families stay, as the record
of past sign-ins that the data export shows)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from shop.accounts.models import AuthToken
from shop.worker import job

# A day's grace: a refresh token presented just after expiry still finds its row and gets
# a clear "expired" answer rather than "unknown".
EXPIRED_TOKEN_GRACE = timedelta(days=1)
BATCH_SIZE = 1000


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
