"""A customer's review of a product they bought, and its moderation."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    Select,
    String,
    Text,
    UniqueConstraint,
    select,
)
from sqlalchemy.orm import Mapped, joinedload, mapped_column, relationship

from shop.accounts.models import User
from shop.catalogue.models import Product
from shop.db import Base, utcnow

REVIEW_STATUSES = ("pending", "approved", "rejected")


class ProductReview(Base):
    __tablename__ = "product_reviews"
    __table_args__ = (
        # one review per product per account: a second one is an edit of the first
        UniqueConstraint("product_id", "user_id"),
        CheckConstraint("rating BETWEEN 1 AND 5", name="rating"),
        CheckConstraint("status IN ('pending', 'approved', 'rejected')", name="status"),
        Index("ix_product_reviews_product_id_status_created_at",
              "product_id", "status", "created_at"),
        Index("ix_product_reviews_status_created_at", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    # the account that wrote it: in its data export, deleted with it
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True)
    rating: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(120))
    body: Mapped[str] = mapped_column(Text)
    author_name: Mapped[str] = mapped_column(String(60))  # shown publicly, e.g. "Lara C."
    status: Mapped[str] = mapped_column(String(10), default="pending")
    rejection_reason: Mapped[str | None] = mapped_column(String(500))  # told to the customer
    moderated_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    moderated_at: Mapped[datetime | None]  # the last approval or rejection

    product: Mapped[Product] = relationship()
    user: Mapped[User | None] = relationship(foreign_keys=[user_id])

    @property
    def verified_purchase(self) -> bool:
        """Only an account that bought the product can review it."""
        return True


def reviews_with_details() -> Select:
    """Reviews with their product and author loaded, as the customer's and staff views show
    them."""
    return select(ProductReview).options(joinedload(ProductReview.product),
                                         joinedload(ProductReview.user))
