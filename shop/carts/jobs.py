"""Worker jobs: forget abandoned carts (guests' after CART_RETENTION_DAYS without a change);
remind signed-in customers, once, of a cart they left (CART_REMINDER_AFTER_HOURS)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from shop.carts import reminders, services
from shop.worker import job

REMINDER_BATCH = 100  # carts (and their accounts) locked by one run until it commits


@job("purge_abandoned_carts", every_seconds=3600)
def purge_abandoned_carts(*, session: Session, now: datetime) -> int:
    return services.purge_abandoned(session=session, now=now)


@job("carts.reminders", every_seconds=300, setting="CART_REMINDER_EVERY_SECONDS")
def send_cart_reminders(*, session: Session, now: datetime) -> int:
    return reminders.send_due(session=session, now=now, limit=REMINDER_BATCH)
