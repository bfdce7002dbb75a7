"""Worker job: forget abandoned carts (guests' after CART_RETENTION_DAYS without a change)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from shop.carts import services
from shop.worker import job


@job("purge_abandoned_carts", every_seconds=3600)
def purge_abandoned_carts(*, session: Session, now: datetime) -> int:
    return services.purge_abandoned(session=session, now=now)
