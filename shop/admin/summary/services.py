"""What needs doing now, counted for the staff's start page: one aggregate query per table."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shop.admin.stock.services import archived_sku, stock_available
from shop.back_in_stock.models import BackInStockRequest
from shop.catalogue.models import Product, Variant
from shop.db import utcnow
from shop.enquiries.models import TreatmentEnquiry
from shop.inventory.models import StockLevel
from shop.notifications.models import OutboxEmail
from shop.orders.models import Order
from shop.returns.models import OrderReturn
from shop.reviews.models import ProductReview


def _counts(session: Session, **columns: Any) -> dict[str, Any]:
    row = session.execute(select(*(column.label(name) for name, column in columns.items())))
    return dict(row.one()._mapping)


def _stock_counts(session: Session) -> dict[str, Any]:
    """Low and sold-out SKUs still on sale (an archived one is never restocked): those the
    low-stock alert would name."""
    count = func.count
    row = session.execute(
        select(count().filter(stock_available < StockLevel.low_stock_threshold).label("low"),
               count().filter(stock_available <= 0).label("out"))
        .join(Variant, Variant.id == StockLevel.variant_id)
        .join(Product, Product.id == Variant.product_id)
        .where(~archived_sku)).one()
    return dict(row._mapping)


def summary(*, session: Session) -> dict[str, Any]:
    count = func.count
    return {
        "orders": _counts(
            session,
            pending_payment=count().filter(Order.status == "pending_payment"),
            to_fulfil=count().filter(Order.status == "paid"),
            oldest_to_fulfil_paid_at=func.min(Order.paid_at).filter(Order.status == "paid"),
            to_complete=count().filter(Order.status == "fulfilled"),
            needs_attention=count().filter(Order.needs_attention.is_(True)),
        ),
        "returns": _counts(
            session,
            requested=count().filter(OrderReturn.status == "requested"),
            received=count().filter(OrderReturn.status == "received"),
        ),
        "enquiries": _counts(session, new=count().filter(TreatmentEnquiry.status == "new")),
        "reviews": _counts(session, pending=count().filter(ProductReview.status == "pending")),
        "stock": _stock_counts(session) | _counts(session, customers_waiting=count().filter(
            BackInStockRequest.notified_at.is_(None))),
        "emails": _counts(
            session,
            waiting=count().filter(OutboxEmail.status == "pending"),
            failed=count().filter(OutboxEmail.status == "failed"),
        ),
        "generated_at": utcnow(),
    }
