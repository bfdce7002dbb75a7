"""A customer's request to be contacted about booking a treatment."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from shop.db import Base, utcnow

ENQUIRY_STATUSES = ("new", "contacted", "closed")


class TreatmentEnquiry(Base):
    __tablename__ = "treatment_enquiries"
    __table_args__ = (
        CheckConstraint("status IN ('new', 'contacted', 'closed')", name="status"),
        Index("ix_treatment_enquiries_status_created_at", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    treatment_id: Mapped[int | None] = mapped_column(
        ForeignKey("treatments.id", ondelete="SET NULL"))
    treatment_name: Mapped[str] = mapped_column(String(200))  # as it was when asked
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254))
    phone: Mapped[str] = mapped_column(String(40), default="")
    preferred_times: Mapped[str] = mapped_column(String(500), default="")
    message: Mapped[str] = mapped_column(Text, default="")
    # who asked, when signed in: in their data export, deleted with the account
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True)
    status: Mapped[str] = mapped_column(String(10), default="new")
    handled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
