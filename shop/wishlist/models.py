"""A product a customer saved to their wishlist."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from shop.db import Base, utcnow


class WishlistItem(Base):
    __tablename__ = "wishlist_items"
    __table_args__ = (
        # a product is saved once; its index also serves the customer's list
        UniqueConstraint("user_id", "product_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # indexed for the cascade when a product is deleted
    product_id: Mapped[int] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
