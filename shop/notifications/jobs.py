"""Worker job: deliver due outbox email over SMTP."""

from __future__ import annotations

import logging
import time
from datetime import datetime

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shop.notifications.models import OutboxEmail
from shop.notifications.services import RetryPolicy, send_due_emails
from shop.notifications.smtp import SmtpMailer, SmtpSettings
from shop.worker import job, stop_requested

log = logging.getLogger(__name__)
WARN_EVERY_SECONDS = 300
_last_warning = [-float(WARN_EVERY_SECONDS)]  # monotonic time of the last "no SMTP_URL" warning


@job("send_outbox", every_seconds=2, setting="OUTBOX_SEND_EVERY_SECONDS")
def send_outbox(*, session: Session, now: datetime) -> int:
    config = current_app.config
    if not config["SMTP_URL"]:
        waiting = session.scalar(
            select(func.count()).select_from(OutboxEmail).where(OutboxEmail.status == "pending")
        )
        if waiting and time.monotonic() - _last_warning[0] >= WARN_EVERY_SECONDS:
            _last_warning[0] = time.monotonic()
            log.warning("SMTP_URL is not set: %s email(s) wait in the outbox", waiting)
        return 0
    settings = SmtpSettings.from_url(config["SMTP_URL"], timeout=config["SMTP_TIMEOUT_SECONDS"])
    with SmtpMailer(settings) as mailer:
        return send_due_emails(
            session=session, now=now, mailer=mailer, sender=config["MAIL_FROM"],
            policy=RetryPolicy.from_config(config), limit=config["OUTBOX_BATCH_SIZE"],
            should_stop=stop_requested,
        )
