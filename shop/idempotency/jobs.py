"""Worker job: forget idempotency keys past their lifetime."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from shop.idempotency.services import purge_expired
from shop.worker import job


@job("purge_idempotency_keys", every_seconds=3600)
def purge_idempotency_keys(*, session: Session, now: datetime) -> int:
    return purge_expired(session=session, now=now)
