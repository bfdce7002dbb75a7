"""Gift vouchers (treatment and money) and their append-only ledger.

`balance_amount` is what the voucher is still worth (the clinic's liability); `held_amount`
is the part of it set aside for orders awaiting payment, so `balance - held` is what can be
spent now. Both are caches of the ledger: balance == sum(amount), held == sum(held_change),
and a test holds us to it. The CHECK constraints are the last line of defence against a
balance below zero; the services change the row with conditional UPDATEs.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, backref, mapped_column, relationship

from shop.carts.models import Cart, CartItem
from shop.catalogue.models import Treatment
from shop.db import Base, utcnow
from shop.money import Money

KINDS = ("treatment", "money")
# bought in the shop; given by the clinic (goodwill, or made outside the shop); a refund paid
# back as store credit
SOURCES = ("purchase", "clinic_gift", "store_credit")
STATUSES = ("active", "redeemed", "expired", "void")
TRANSACTION_KINDS = (
    "issue", "hold", "debit", "release", "refund_credit", "void", "extension", "redemption",
    "top_up", "freeze", "unfreeze", "expiry",
)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(value) for value in values)})"


class Voucher(Base):
    __tablename__ = "vouchers"
    __table_args__ = (
        CheckConstraint(_in("kind", KINDS), name="kind"),
        CheckConstraint(_in("status", STATUSES), name="status"),
        CheckConstraint(_in("source", SOURCES), name="source"),
        CheckConstraint(
            "(kind = 'treatment' AND treatment_id IS NOT NULL) "
            "OR (kind = 'money' AND treatment_id IS NULL)",
            name="treatment_matches_kind",
        ),
        CheckConstraint("initial_amount >= 0", name="initial_not_negative"),
        CheckConstraint("balance_amount >= 0", name="balance_not_negative"),
        CheckConstraint("held_amount >= 0", name="held_not_negative"),
        CheckConstraint("held_amount <= balance_amount", name="held_within_balance"),
        Index("ix_vouchers_status_expires_at", "status", "expires_at"),
        # GET /me/vouchers: the vouchers whose email goes to the account's address (wallet.py)
        Index("ix_vouchers_holder_email",
              text("lower(coalesce(recipient_email, purchaser_email))")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    source: Mapped[str] = mapped_column(String(20), default="purchase",
                                        server_default="purchase")
    treatment_id: Mapped[int | None] = mapped_column(ForeignKey("treatments.id"))
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    code_encrypted: Mapped[str] = mapped_column(String(128))
    code_last4: Mapped[str] = mapped_column(String(4))
    currency: Mapped[str] = mapped_column(String(3))
    initial_amount: Mapped[int] = mapped_column(Integer)
    balance_amount: Mapped[int] = mapped_column(Integer)
    held_amount: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(20), default="active")
    expires_at: Mapped[datetime]
    recipient_name: Mapped[str] = mapped_column(String(200), default="")
    recipient_email: Mapped[str | None] = mapped_column(String(254))
    purchaser_email: Mapped[str | None] = mapped_column(String(254))
    message: Mapped[str] = mapped_column(Text, default="")
    send_on: Mapped[date | None] = mapped_column(Date)
    order_id: Mapped[int | None] = mapped_column(Integer, index=True)
    order_line_id: Mapped[int | None] = mapped_column(Integer, unique=True)
    frozen: Mapped[bool] = mapped_column(default=False)
    # The smallest "expires in N days" reminder sent for the current expiry (None: none yet).
    reminder_sent_days: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    treatment: Mapped[Treatment | None] = relationship(lazy="joined")
    transactions: Mapped[list[VoucherTransaction]] = relationship(
        back_populates="voucher", order_by="VoucherTransaction.id", viewonly=True
    )

    @property
    def balance(self) -> Money:
        return Money(self.balance_amount, self.currency)

    @property
    def held(self) -> Money:
        return Money(self.held_amount, self.currency)

    @property
    def available(self) -> Money:
        return Money(self.balance_amount - self.held_amount, self.currency)

    @property
    def initial_value(self) -> Money:
        return Money(self.initial_amount, self.currency)


class VoucherTransaction(Base):
    """One change to a voucher. Rows are only ever inserted."""

    __tablename__ = "voucher_transactions"
    __table_args__ = (
        CheckConstraint(_in("kind", TRANSACTION_KINDS), name="kind"),
        CheckConstraint("top_up_amount IS NULL OR top_up_amount > 0", name="top_up_positive"),
        UniqueConstraint("hold_id", name="uq_voucher_transactions_hold_id"),
        Index("ix_voucher_transactions_voucher_id_id", "voucher_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    voucher_id: Mapped[int] = mapped_column(ForeignKey("vouchers.id"))
    kind: Mapped[str] = mapped_column(String(20))
    amount: Mapped[int] = mapped_column(Integer, default=0)
    held_change: Mapped[int] = mapped_column(Integer, default=0)
    balance_after: Mapped[int] = mapped_column(Integer)
    held_after: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    order_id: Mapped[int | None] = mapped_column(Integer, index=True)
    staff_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    hold_id: Mapped[int | None] = mapped_column(ForeignKey("voucher_transactions.id"))
    treatment_id: Mapped[int | None] = mapped_column(ForeignKey("treatments.id"))
    top_up_amount: Mapped[int | None] = mapped_column(Integer)
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    voucher: Mapped[Voucher] = relationship(back_populates="transactions")
    treatment: Mapped[Treatment | None] = relationship(lazy="joined")

    @property
    def amount_money(self) -> Money:
        return Money(self.amount, self.currency)

    @property
    def held_change_money(self) -> Money:
        return Money(self.held_change, self.currency)

    @property
    def balance_after_money(self) -> Money:
        return Money(self.balance_after, self.currency)

    @property
    def top_up(self) -> Money | None:
        return None if self.top_up_amount is None else Money(self.top_up_amount, self.currency)


class VoucherLineDetails(Base):
    """Who a voucher being bought is for: on a cart line, then copied to its order line."""

    __tablename__ = "voucher_line_details"
    __table_args__ = (
        CheckConstraint(
            "(cart_item_id IS NULL) <> (order_line_id IS NULL)", name="one_line"
        ),
        CheckConstraint("amount IS NULL OR amount > 0", name="amount_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    cart_item_id: Mapped[int | None] = mapped_column(
        ForeignKey("cart_items.id", ondelete="CASCADE"), unique=True
    )
    order_line_id: Mapped[int | None] = mapped_column(
        ForeignKey("order_lines.id", ondelete="CASCADE"), unique=True
    )
    recipient_name: Mapped[str] = mapped_column(String(200), default="")
    recipient_email: Mapped[str | None] = mapped_column(String(254))
    message: Mapped[str] = mapped_column(Text, default="")
    send_on: Mapped[date | None] = mapped_column(Date)
    amount: Mapped[int | None] = mapped_column(Integer)  # a custom money voucher's value
    # What the line buys, fixed at checkout (later catalogue edits change nothing).
    voucher_kind: Mapped[str | None] = mapped_column(String(20))
    treatment_id: Mapped[int | None] = mapped_column(ForeignKey("treatments.id"))

    cart_item: Mapped[CartItem | None] = relationship(
        backref=backref("voucher_details", uselist=False, cascade="all, delete-orphan",
                        passive_deletes=True),
    )


class CartVoucher(Base):
    """A money voucher applied to a cart, by reference: the code itself is never stored."""

    __tablename__ = "cart_vouchers"
    # also the index for finding a cart's vouchers (cart_id leads it)
    __table_args__ = (UniqueConstraint("cart_id", "voucher_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    cart_id: Mapped[str] = mapped_column(ForeignKey("carts.id", ondelete="CASCADE"))
    voucher_id: Mapped[int] = mapped_column(ForeignKey("vouchers.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    cart: Mapped[Cart] = relationship()
    voucher: Mapped[Voucher] = relationship()
