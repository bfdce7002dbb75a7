"""Orders, their snapshot lines, their event timeline, and the stock they hold while unpaid."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, Computed, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shop.checkout.shipping import BY_CODE
from shop.db import Base, utcnow
from shop.money import Money

ORDER_STATUSES = ("pending_payment", "paid", "fulfilled", "completed", "cancelled")
LINE_KINDS = ("product", "voucher")
RESERVATION_STATUSES = ("active", "converted", "released")
ORDER_NUMBER_PREFIX = "GLW-"
ORDER_NUMBER_OFFSET = 10000
# The database derives it from the id (migration 0015), so the order's INSERT returns it;
# a new prefix or offset needs a migration.
ORDER_NUMBER = f"'{ORDER_NUMBER_PREFIX}' || CAST(id + {ORDER_NUMBER_OFFSET} AS TEXT)"


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint(
            "status IN ('pending_payment', 'paid', 'fulfilled', 'completed', 'cancelled')",
            name="status",
        ),
        CheckConstraint("amount_due >= 0 AND amount_due <= total_amount", name="amount_due_range"),
        CheckConstraint("total_amount >= 0", name="total_not_negative"),
        Index("ix_orders_user_id_created_at", "user_id", "created_at"),
        Index("ix_orders_status_reservation_expires_at", "status", "reservation_expires_at"),
        Index("ix_orders_status_created_at", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), Computed(ORDER_NUMBER, persisted=True),
                                        unique=True)
    status: Mapped[str] = mapped_column(String(20), default="pending_payment")
    email: Mapped[str] = mapped_column(String(254))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    cart_id: Mapped[str | None] = mapped_column(ForeignKey("carts.id", ondelete="SET NULL"))
    currency: Mapped[str] = mapped_column(String(3))
    subtotal_amount: Mapped[int] = mapped_column(Integer)
    shipping_amount: Mapped[int] = mapped_column(Integer, default=0)
    discount_amount: Mapped[int] = mapped_column(Integer, default=0)
    discount_code: Mapped[str | None] = mapped_column(String(40))  # the promotion code used
    vat_amount: Mapped[int] = mapped_column(Integer)
    vat_breakdown: Mapped[list[dict]] = mapped_column(JSON, default=list)  # [{rate, amount}]
    total_amount: Mapped[int] = mapped_column(Integer)
    amount_due: Mapped[int] = mapped_column(Integer)
    shipping_method: Mapped[str | None] = mapped_column(String(40))
    shipping_address: Mapped[dict | None] = mapped_column(JSON)
    access_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    reservation_expires_at: Mapped[datetime | None]
    paid_at: Mapped[datetime | None]
    payment_reference: Mapped[str | None] = mapped_column(String(255))
    cancelled_at: Mapped[datetime | None]
    cancel_reason: Mapped[str | None] = mapped_column(String(60))
    needs_attention: Mapped[bool] = mapped_column(default=False)
    attention_reason: Mapped[str | None] = mapped_column(String(60))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    lines: Mapped[list[OrderLine]] = relationship(
        back_populates="order", order_by="OrderLine.id", cascade="all, delete-orphan"
    )
    events: Mapped[list[OrderEvent]] = relationship(
        order_by="OrderEvent.id", cascade="all, delete-orphan"
    )
    reservations: Mapped[list[StockReservation]] = relationship(
        order_by="StockReservation.variant_id", cascade="all, delete-orphan"
    )

    def money(self, amount: int) -> Money:
        return Money(amount, self.currency)

    @property
    def totals(self) -> dict[str, Money]:
        return {
            "subtotal": self.money(self.subtotal_amount),
            "shipping": self.money(self.shipping_amount),
            "discount": self.money(self.discount_amount),
            "vat": self.money(self.vat_amount),
            "total": self.money(self.total_amount),
            "amount_due": self.money(self.amount_due),
        }

    @property
    def vat(self) -> list[dict]:
        return [{"rate": row["rate"], "amount": self.money(row["amount"])}
                for row in self.vat_breakdown]

    @property
    def shipping(self) -> dict:
        method = BY_CODE.get(self.shipping_method or "")
        return {"method": self.shipping_method, "name": method.name if method else None,
                "price": self.money(self.shipping_amount), "address": self.shipping_address}


class OrderLine(Base):
    """What was sold, frozen at checkout: later catalogue edits never change a placed order."""

    __tablename__ = "order_lines"
    __table_args__ = (
        CheckConstraint("kind IN ('product', 'voucher')", name="kind"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("unit_price_amount >= 0", name="unit_price_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    variant_id: Mapped[int | None] = mapped_column(
        ForeignKey("product_variants.id", ondelete="SET NULL"), index=True
    )
    kind: Mapped[str] = mapped_column(String(20), default="product")
    sku: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(330))
    unit_price_amount: Mapped[int] = mapped_column(Integer)
    quantity: Mapped[int] = mapped_column(Integer)
    line_total_amount: Mapped[int] = mapped_column(Integer)
    vat_rate: Mapped[int] = mapped_column(Integer)
    vat_amount: Mapped[int] = mapped_column(Integer)

    order: Mapped[Order] = relationship(back_populates="lines")

    @property
    def unit_price(self) -> Money:
        return self.order.money(self.unit_price_amount)

    @property
    def line_total(self) -> Money:
        return self.order.money(self.line_total_amount)

    @property
    def vat(self) -> dict:
        return {"rate": self.vat_rate, "amount": self.order.money(self.vat_amount)}


class OrderEvent(Base):
    """The order's timeline: placed, payment failed, paid, cancelled, refunded..."""

    __tablename__ = "order_events"
    __table_args__ = (Index("ix_order_events_order_id_created_at", "order_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(60))
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class StockReservation(Base):
    """Units an unpaid order holds. stock_levels.reserved is the sum of the active ones."""

    __tablename__ = "stock_reservations"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("status IN ('active', 'converted', 'released')", name="status"),
        Index("ix_stock_reservations_variant_id_status", "variant_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    variant_id: Mapped[int] = mapped_column(
        ForeignKey("product_variants.id", ondelete="CASCADE")
    )
    quantity: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default="active")
    expires_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
