"""Carts and their lines. Prices are never stored here: every read prices from the catalogue."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shop.catalogue.models import Variant
from shop.db import Base, utcnow
from shop.promotions.models import Promotion

CART_STATUSES = ("open", "checked_out", "merged")
OPEN_CUSTOMER_CART = "status = 'open' AND user_id IS NOT NULL"


class Cart(Base):
    """A basket. Its id is random (192 bits): for a guest it is the only key to the cart."""

    __tablename__ = "carts"
    __table_args__ = (
        CheckConstraint("status IN ('open', 'checked_out', 'merged')", name="status"),
        Index("ix_carts_user_id_status", "user_id", "status"),
        Index("ix_carts_updated_at", "updated_at"),
        # the reminder job's (shop.carts.reminders): customers' open carts by when they
        # changed, without the guest carts that are most of ix_carts_updated_at
        Index("ix_carts_customer_open_updated_at", "updated_at",
              sqlite_where=text(OPEN_CUSTOMER_CART), postgresql_where=text(OPEN_CUSTOMER_CART)),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(20), default="open")
    # the promotion code applied (one per cart); a cart without one never reads promotions
    promotion_id: Mapped[int | None] = mapped_column(
        ForeignKey("promotions.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    # when the customer was last emailed about this cart left waiting (shop.carts.reminders);
    # a change after it (updated_at later) lets it be reminded again
    reminded_at: Mapped[datetime | None]

    promotion: Mapped[Promotion | None] = relationship()
    items: Mapped[list[CartItem]] = relationship(
        back_populates="cart", order_by="CartItem.id", cascade="all, delete-orphan",
        passive_deletes=True,
    )

    # Not a column: whether a voucher was applied, as the statement that read the items saw it
    # (None: not known), so that a cart without vouchers skips the query for them.
    vouchers_applied = None


class CartItem(Base):
    __tablename__ = "cart_items"
    __table_args__ = (CheckConstraint("quantity > 0", name="quantity_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    cart_id: Mapped[str] = mapped_column(
        ForeignKey("carts.id", ondelete="CASCADE"), index=True
    )
    variant_id: Mapped[int] = mapped_column(
        ForeignKey("product_variants.id", ondelete="CASCADE"), index=True
    )
    quantity: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    cart: Mapped[Cart] = relationship(back_populates="items")
    variant: Mapped[Variant] = relationship()
