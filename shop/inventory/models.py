"""Stock: a per-variant level row (locked for changes) and its append-only movement ledger.

on_hand always equals the sum of the variant's movements; a test holds us to it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, query_expression, relationship

from shop.catalogue.models import Variant  # noqa: F401  (relationship target)
from shop.db import Base, utcnow

MOVEMENT_REASONS = (
    "received", "damaged", "correction", "returned", "stocktake", "sale", "sale_reversal",
)


class StockLevel(Base):
    __tablename__ = "stock_levels"
    __table_args__ = (
        CheckConstraint("on_hand >= 0", name="on_hand_not_negative"),
        CheckConstraint("reserved >= 0", name="reserved_not_negative"),
        CheckConstraint("reserved <= on_hand", name="reserved_within_on_hand"),
    )

    variant_id: Mapped[int] = mapped_column(
        ForeignKey("product_variants.id", ondelete="CASCADE"), primary_key=True
    )
    on_hand: Mapped[int] = mapped_column(Integer, default=0)
    reserved: Mapped[int] = mapped_column(Integer, default=0)
    low_stock_threshold: Mapped[int] = mapped_column(Integer, default=5)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    variant: Mapped[Variant] = relationship(back_populates="stock_level")
    # loaded only where a query asks for it (the staff stock list): how many customers wait
    # for a back-in-stock email about this variant
    waiting: Mapped[int | None] = query_expression()

    @property
    def available(self) -> int:
        return max(self.on_hand - self.reserved, 0)


class StockMovement(Base):
    __tablename__ = "stock_movements"
    __table_args__ = (
        CheckConstraint("quantity <> 0", name="quantity_not_zero"),
        Index("ix_stock_movements_variant_id_created_at", "variant_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    variant_id: Mapped[int] = mapped_column(ForeignKey("product_variants.id", ondelete="CASCADE"))
    quantity: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(32))
    note: Mapped[str] = mapped_column(Text, default="")
    balance_after: Mapped[int] = mapped_column(Integer)
    order_id: Mapped[int | None] = mapped_column(Integer, index=True)
    staff_user_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
