"""Staff-operations tables that belong to no other domain."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shop.accounts.models import User
from shop.db import Base, utcnow


class LowStockAlert(Base):
    """A variant staff were told is running low. Deleted once stock is back at or above the
    threshold, so the next fall below it alerts again: one e-mail per crossing."""

    __tablename__ = "low_stock_alerts"

    variant_id: Mapped[int] = mapped_column(
        ForeignKey("product_variants.id", ondelete="CASCADE"), primary_key=True,
        autoincrement=False,
    )
    available: Mapped[int] = mapped_column(Integer)
    threshold: Mapped[int] = mapped_column(Integer)
    alerted_at: Mapped[datetime] = mapped_column(default=utcnow)


class OrderRefund(Base):
    """A refund staff made on an order: how much, how it was split between the card and the
    gift vouchers that paid (or all of it given as store credit, a new gift voucher), which
    lines (and whether they went back on the shelf), and why.

    The sum of an order's refunds never exceeds what was paid for it: refunds are computed
    and written while the order row is locked."""

    __tablename__ = "order_refunds"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("card_amount >= 0 AND voucher_amount >= 0 AND store_credit_amount >= 0",
                        name="parts_not_negative"),
        CheckConstraint("card_amount + voucher_amount + store_credit_amount = amount",
                        name="parts_add_up"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    amount: Mapped[int] = mapped_column(Integer)
    card_amount: Mapped[int] = mapped_column(Integer)
    voucher_amount: Mapped[int] = mapped_column(Integer)
    # paid back as a new gift voucher for the customer instead (with their agreement)
    store_credit_amount: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    store_credit_voucher_id: Mapped[int | None] = mapped_column(
        ForeignKey("vouchers.id", ondelete="SET NULL"))
    currency: Mapped[str] = mapped_column(String(3))
    restock: Mapped[bool] = mapped_column(default=False)
    reason: Mapped[str] = mapped_column(String(255))
    staff_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    payment_refund_id: Mapped[int | None] = mapped_column(
        ForeignKey("refunds.id", ondelete="SET NULL")
    )
    stripe_idempotency_key: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    lines: Mapped[list[OrderRefundLine]] = relationship(
        order_by="OrderRefundLine.id", cascade="all, delete-orphan"
    )


class OrderRefundLine(Base):
    __tablename__ = "order_refund_lines"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("amount >= 0", name="amount_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    refund_id: Mapped[int] = mapped_column(
        ForeignKey("order_refunds.id", ondelete="CASCADE"), index=True
    )
    order_line_id: Mapped[int] = mapped_column(
        ForeignKey("order_lines.id", ondelete="CASCADE"), index=True
    )
    quantity: Mapped[int] = mapped_column(Integer)
    amount: Mapped[int] = mapped_column(Integer)


class OrderNote(Base):
    """A note staff keep on an order for each other ("called: collects on Friday"). Never
    shown to the customer; it stays with the order, which is kept for the accounts."""

    __tablename__ = "order_notes"
    __table_args__ = (CheckConstraint("length(text) > 0", name="text_not_empty"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    staff_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    staff: Mapped[User | None] = relationship(lazy="joined")
