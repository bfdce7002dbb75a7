"""Worker job: closed treatment enquiries are deleted after ENQUIRY_RETENTION_DAYS."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from shop.enquiries import services
from shop.worker import job


@job("enquiries.purge", every_seconds=3600)
def purge_enquiries(*, session: Session, now: datetime) -> int:
    return services.purge_old(session=session, now=now, limit=500)
