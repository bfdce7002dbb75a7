"""Promotion codes and their redemptions (one per order that used a code)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from shop.db import Base, utcnow

REDEMPTION_STATUSES = ("held", "used", "released")


class Promotion(Base):
    """`redemptions` counts the orders holding or having used the code: checkout takes one
    with a conditional UPDATE, so `max_redemptions` holds however many check out at once."""

    __tablename__ = "promotions"
    __table_args__ = (
        CheckConstraint("status IN ('active', 'disabled')", name="status"),
        CheckConstraint(
            "(percent_off IS NOT NULL AND percent_off BETWEEN 1 AND 100 AND amount_off IS NULL)"
            " OR (amount_off IS NOT NULL AND amount_off > 0 AND percent_off IS NULL)",
            name="one_value"),
        CheckConstraint("min_subtotal_amount >= 0", name="min_subtotal_not_negative"),
        CheckConstraint("redemptions >= 0", name="redemptions_not_negative"),
        CheckConstraint("max_redemptions IS NULL OR redemptions <= max_redemptions",
                        name="redemptions_within_max"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)  # stored upper case
    description: Mapped[str] = mapped_column(String(200))
    percent_off: Mapped[int | None] = mapped_column(Integer)
    amount_off: Mapped[int | None] = mapped_column(Integer)  # minor units of `currency`
    currency: Mapped[str] = mapped_column(String(3))
    min_subtotal_amount: Mapped[int] = mapped_column(Integer, default=0)
    starts_at: Mapped[datetime | None]
    ends_at: Mapped[datetime | None]
    max_redemptions: Mapped[int | None] = mapped_column(Integer)
    once_per_customer: Mapped[bool] = mapped_column(default=False)
    redemptions: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(10), default="active")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class PromotionRedemption(Base):
    """A code's use by one order: held at checkout, used once paid, released if never paid."""

    __tablename__ = "promotion_redemptions"
    __table_args__ = (
        CheckConstraint("status IN ('held', 'used', 'released')", name="status"),
        # a once-per-customer code: one held or used redemption per customer, however many
        # of their checkouts run at once (NULLs, for other codes and released uses, repeat)
        UniqueConstraint("promotion_id", "once_key"),
        # ... and one per signed-in account, whatever email its checkout gives
        UniqueConstraint("promotion_id", "once_user_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    promotion_id: Mapped[int] = mapped_column(ForeignKey("promotions.id", ondelete="CASCADE"))
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"),
                                          unique=True)
    amount: Mapped[int] = mapped_column(Integer)
    once_key: Mapped[str | None] = mapped_column(String(254))  # the customer's email
    once_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(10), default="held")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
