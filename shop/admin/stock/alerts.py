"""Low-stock alerts: e-mail staff once each time a SKU's available stock falls below its
threshold. A `low_stock_alerts` row remembers that staff were told; it is removed when
stock is back at or above the threshold, which arms the alert for the next fall.

Rows are claimed with INSERT ... ON CONFLICT DO NOTHING RETURNING, so two worker copies
racing over the same crossing send one e-mail between them.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime

from sqlalchemy import delete, exists, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from shop.accounts.models import User
from shop.admin.models import LowStockAlert
from shop.admin.stock.services import archived_sku, stock_available
from shop.catalogue.models import Product, Variant
from shop.db import is_postgresql
from shop.inventory.models import StockLevel
from shop.notifications import services as notifications

log = logging.getLogger(__name__)


def alert_recipients(*, session: Session, configured: str = "") -> list[str]:
    """STAFF_ALERT_EMAIL (comma-separated) when set, else every staff and admin account."""
    listed = [address.strip() for address in configured.split(",") if address.strip()]
    if listed:
        return listed
    return list(session.scalars(
        select(User.email)
        .where(User.role.in_(("staff", "admin")), User.deleted_at.is_(None))
        .order_by(User.email)
    ))


def rearm_recovered(*, session: Session) -> int:
    recovered = (
        select(StockLevel.variant_id)
        .where(stock_available >= StockLevel.low_stock_threshold)
        .scalar_subquery()
    )
    return session.execute(
        delete(LowStockAlert).where(LowStockAlert.variant_id.in_(recovered))
    ).rowcount


def _claim(session: Session, rows: list[dict], now: datetime) -> set[int]:
    insert = (postgresql if is_postgresql(session) else sqlite).insert(LowStockAlert)
    stmt = (
        insert.values([{**row, "alerted_at": now} for row in rows])
        .on_conflict_do_nothing(index_elements=[LowStockAlert.variant_id])
        .returning(LowStockAlert.variant_id)
    )
    return set(session.scalars(stmt))


def _email_text(items: list) -> str:
    lines = ["These products have fallen below their low-stock threshold:", ""]
    lines += [f"- {item.sku} ({item.product}, {item.variant}): {item.available} available, "
              f"threshold {item.threshold}" for item in items]
    lines += ["", "Record deliveries with POST /api/v1/admin/stock/adjustments."]
    return "\n".join(lines)


def send_low_stock_alerts(*, session: Session, now: datetime, recipients: list[str]) -> int:
    """Re-arm recovered SKUs, then e-mail one digest of the SKUs that newly fell low."""
    rearm_recovered(session=session)
    if not recipients:
        log.warning("low stock: no staff e-mail to alert (set STAFF_ALERT_EMAIL)")
        return 0
    fallen = session.execute(
        select(StockLevel.variant_id, Variant.sku, Product.name.label("product"),
               Variant.name.label("variant"), stock_available.label("available"),
               StockLevel.low_stock_threshold.label("threshold"))
        .join(Variant, Variant.id == StockLevel.variant_id)
        .join(Product, Product.id == Variant.product_id)
        .where(stock_available < StockLevel.low_stock_threshold, ~archived_sku,
               ~exists().where(LowStockAlert.variant_id == StockLevel.variant_id))
        .order_by(Variant.sku)
    ).all()
    if not fallen:
        return 0
    claimed = _claim(session, [{"variant_id": row.variant_id, "available": row.available,
                                "threshold": row.threshold} for row in fallen], now)
    items = [row for row in fallen if row.variant_id in claimed]
    if not items:
        return 0
    digest = hashlib.sha256(
        f"{now.isoformat()}:{sorted(claimed)}".encode()).hexdigest()[:32]
    subject = f"Low stock: {len(items)} SKU{'s' if len(items) > 1 else ''} below threshold"
    for recipient in recipients:
        notifications.enqueue_email(
            session=session, to=recipient, subject=subject, text=_email_text(items),
            dedupe_key=f"low-stock:{digest}:{hashlib.sha256(recipient.encode()).hexdigest()[:16]}",
        )
    return len(items)
