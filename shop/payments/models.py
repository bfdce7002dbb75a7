"""Card payments for orders (Stripe PaymentIntents or hosted Checkout Sessions), their refunds,
and the Stripe webhook events already applied."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shop.db import Base, utcnow

FLOWS = ("payment_intent", "hosted")
# Once a payment reaches one of these it never changes again (webhooks arrive out of order).
TERMINAL_STATUSES = ("succeeded", "canceled", "expired")


class Payment(Base):
    """One attempt to collect an order's amount due through Stripe.

    `status` mirrors the PaymentIntent's status (requires_payment_method, processing,
    succeeded, canceled...), or `open`/`expired` for a hosted Checkout Session not paid yet.
    """

    __tablename__ = "payments"
    __table_args__ = (
        CheckConstraint("flow IN ('payment_intent', 'hosted')", name="flow"),
        CheckConstraint("amount > 0", name="amount_positive"),
        # also the index for finding an order's payments (order_id leads it)
        UniqueConstraint("order_id", "attempt"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    provider: Mapped[str] = mapped_column(String(20), default="stripe")
    flow: Mapped[str] = mapped_column(String(20), default="payment_intent")
    payment_intent_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    checkout_session_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    status: Mapped[str] = mapped_column(String(40))
    amount: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    customer_id: Mapped[str | None] = mapped_column(String(255))
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    refunds: Mapped[list[Refund]] = relationship(back_populates="payment", order_by="Refund.id")

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES


class Refund(Base):
    """Money sent back to the card. Failed and canceled refunds returned nothing."""

    __tablename__ = "refunds"
    __table_args__ = (CheckConstraint("amount > 0", name="amount_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    payment_id: Mapped[int] = mapped_column(
        ForeignKey("payments.id", ondelete="CASCADE"), index=True
    )
    stripe_refund_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    amount: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(40))
    reason: Mapped[str] = mapped_column(String(255), default="")
    idempotency_key: Mapped[str] = mapped_column(String(255), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # When we learnt the bank sent it back; None for one that never counted (failed at once)
    failed_at: Mapped[datetime | None]

    payment: Mapped[Payment] = relationship(back_populates="refunds")

    @property
    def counts(self) -> bool:
        """Whether this refund takes (or may still take) money back from the payment."""
        return self.status not in ("failed", "canceled")


class StripeEvent(Base):
    """A webhook event applied once: its row commits in the same transaction as its effect."""

    __tablename__ = "stripe_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(String(255), unique=True)
    type: Mapped[str] = mapped_column(String(100))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    processed_at: Mapped[datetime | None]


CUSTOMER_SYNC_ACTIONS = ("update", "delete")


class CustomerSync(Base):
    """A change an account's Stripe Customer must follow: its name or email changed (`update`,
    which sends the account's details as they are when it runs), or the account was deleted
    (`delete`, which erases the Customer and the cards saved on it). The worker carries them
    out, retrying while Stripe cannot be reached."""

    __tablename__ = "stripe_customer_syncs"
    __table_args__ = (
        CheckConstraint("action IN ('update', 'delete')", name="action"),
        CheckConstraint("status IN ('pending', 'done', 'failed')", name="status"),
        Index("ix_stripe_customer_syncs_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    customer_id: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    done_at: Mapped[datetime | None]
