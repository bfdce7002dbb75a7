"""Staff-operations worker jobs (imported by shop.worker's JOB_MODULES)."""

from __future__ import annotations

from datetime import datetime

from flask import current_app
from sqlalchemy.orm import Session

from shop.admin.stock import alerts
from shop.worker import job


@job("low_stock_alerts", every_seconds=300, setting="LOW_STOCK_ALERT_EVERY_SECONDS")
def low_stock_alerts(*, session: Session, now: datetime) -> int:
    """E-mail staff about SKUs that fell below their low-stock threshold (once per fall)."""
    recipients = alerts.alert_recipients(
        session=session, configured=current_app.config["STAFF_ALERT_EMAIL"]
    )
    return alerts.send_low_stock_alerts(session=session, now=now, recipients=recipients)
