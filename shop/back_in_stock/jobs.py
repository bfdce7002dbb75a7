"""Worker jobs: tell who asked when a variant is back in stock; forget answered requests."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from shop.back_in_stock import services
from shop.worker import job

BATCH = 500


@job("back_in_stock.send", every_seconds=60, setting="BACK_IN_STOCK_SEND_EVERY_SECONDS")
def send_back_in_stock(*, session: Session, now: datetime) -> int:
    return services.send_due(session=session, now=now, limit=BATCH)


@job("back_in_stock.purge", every_seconds=3600)
def purge_back_in_stock(*, session: Session, now: datetime) -> int:
    return services.purge_notified(session=session, now=now, limit=BATCH)
