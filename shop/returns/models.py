"""A customer's request to send products back, and the lines it covers."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, Select, String, Text, select
from sqlalchemy.orm import Mapped, mapped_column, relationship, selectinload

from shop.admin.models import OrderRefund
from shop.db import Base, utcnow
from shop.money import Money
from shop.orders.models import Order, OrderLine
from shop.payments.models import Refund

RETURN_STATUSES = ("requested", "received", "refunded", "rejected", "withdrawn")
OPEN_STATUSES = ("requested", "received")
RETURN_REASONS = ("changed_mind", "damaged", "faulty", "wrong_item", "not_as_described",
                  "reaction", "other")


class OrderReturn(Base):
    __tablename__ = "order_returns"
    __table_args__ = (
        CheckConstraint(
            "status IN ('requested', 'received', 'refunded', 'rejected', 'withdrawn')",
            name="status"),
        Index("ix_order_returns_status_created_at", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(12), default="requested")
    reason: Mapped[str] = mapped_column(String(20))
    note: Mapped[str] = mapped_column(Text, default="")  # the customer's words
    # what the lines come to at the price paid, as told to the customer when they asked
    estimated_refund_amount: Mapped[int] = mapped_column(Integer)
    staff_note: Mapped[str] = mapped_column(String(500), default="")  # e.g. why it was rejected
    handled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    refund_id: Mapped[int | None] = mapped_column(
        ForeignKey("order_refunds.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    received_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]  # refunded, rejected or withdrawn

    lines: Mapped[list[OrderReturnLine]] = relationship(
        order_by="OrderReturnLine.id", cascade="all, delete-orphan")
    order: Mapped[Order] = relationship()
    refund: Mapped[OrderRefund | None] = relationship()

    @property
    def estimated_refund(self) -> Money:
        return self.order.money(self.estimated_refund_amount)

    card_refund: Mapped[Refund | None] = relationship(
        secondary="order_refunds", primaryjoin="OrderReturn.refund_id == OrderRefund.id",
        secondaryjoin="OrderRefund.payment_refund_id == Refund.id", viewonly=True)

    @property
    def card_refund_failed(self) -> bool:
        """The bank sent the card part of its refund back (the order is flagged for staff)."""
        return self.card_refund is not None and not self.card_refund.counts

    @property
    def refunded(self) -> Money | None:
        """What its refund paid back: not a card part the bank sent back."""
        if self.refund is None:
            return None
        failed = self.refund.card_amount if self.card_refund_failed else 0
        return self.order.money(self.refund.amount - failed)


class OrderReturnLine(Base):
    __tablename__ = "order_return_lines"
    __table_args__ = (CheckConstraint("quantity > 0", name="quantity_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    return_id: Mapped[int] = mapped_column(
        ForeignKey("order_returns.id", ondelete="CASCADE"), index=True)
    order_line_id: Mapped[int] = mapped_column(
        ForeignKey("order_lines.id", ondelete="CASCADE"), index=True)
    quantity: Mapped[int] = mapped_column(Integer)

    order_line: Mapped[OrderLine] = relationship()


def returns_with_details() -> Select:
    """Returns with their order, lines and refund loaded (one query each), as views show them."""
    return select(OrderReturn).options(
        selectinload(OrderReturn.order), selectinload(OrderReturn.refund),
        selectinload(OrderReturn.card_refund),
        selectinload(OrderReturn.lines).selectinload(OrderReturnLine.order_line))
