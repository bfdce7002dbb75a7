"""A customer's request to be told, once, when a sold-out variant is back in stock."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shop.catalogue.models import Variant
from shop.db import Base, utcnow


class BackInStockRequest(Base):
    __tablename__ = "back_in_stock_requests"
    __table_args__ = (
        # one waiting request per address and variant; asking again after the email re-arms it
        UniqueConstraint("variant_id", "email"),
        Index("ix_back_in_stock_requests_notified_at", "notified_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    variant_id: Mapped[int] = mapped_column(
        ForeignKey("product_variants.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(254))  # normalised (trimmed, lower case)
    # who asked, when signed in: the request is in their data export and goes with the account
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    notified_at: Mapped[datetime | None]

    variant: Mapped[Variant] = relationship()
