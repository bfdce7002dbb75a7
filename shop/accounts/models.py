"""Accounts: customers and staff, their address books, and the token families their sessions
live in."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shop.catalogue.models import Concern
from shop.db import Base, utcnow

ROLES = ("customer", "staff", "admin")
STAFF_ROLES = ("staff", "admin")
MAX_SKIN_CONCERNS = 5


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("role IN ('customer', 'staff', 'admin')", name="role"),
        # the catalogue's skin types (catalogue.models.SKIN_TYPES)
        CheckConstraint(
            "skin_type IN ('oily', 'combination', 'dry', 'normal', 'sensitive')", name="skin_type"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Always stored normalised (trimmed, lower case): the unique constraint is then
    # case-insensitive on both databases.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    # when the owner proved the address (a mailed link or code); None: not proved
    email_verified_at: Mapped[datetime | None]
    password_hash: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(20), default="customer")
    marketing_consent: Mapped[bool] = mapped_column(default=False)
    marketing_consent_at: Mapped[datetime | None]
    stripe_customer_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    last_login_at: Mapped[datetime | None]
    password_changed_at: Mapped[datetime | None]
    disabled_at: Mapped[datetime | None]
    deleted_at: Mapped[datetime | None]
    # The skin profile GET /me/routine is built from: None until the customer tells us
    skin_type: Mapped[str | None] = mapped_column(String(20))
    # Two-factor sign-in (accounts/otp.py): the TOTP secret sealed with a key derived from
    # VOUCHER_KEY (pending until enabled_at is set), and the last time step a code was
    # accepted for, so no code works twice
    two_factor_secret: Mapped[str | None] = mapped_column(String(255))
    two_factor_enabled_at: Mapped[datetime | None]
    two_factor_last_step: Mapped[int | None] = mapped_column(BigInteger)

    addresses: Mapped[list[Address]] = relationship(
        back_populates="user", cascade="all, delete-orphan", order_by="Address.id",
        passive_deletes=True,
    )
    skin_concern_rows: Mapped[list[UserSkinConcern]] = relationship(
        cascade="all, delete-orphan", order_by="UserSkinConcern.position", passive_deletes=True,
    )

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES

    @property
    def two_factor_enabled(self) -> bool:
        return self.two_factor_enabled_at is not None

    @property
    def is_active(self) -> bool:
        return self.deleted_at is None and self.disabled_at is None

    @property
    def default_address(self) -> Address | None:
        return next((address for address in self.addresses if address.is_default), None)

    @property
    def skin_concerns(self) -> list[str]:
        """The slugs of the profile's concerns, in the customer's order (the first leads)."""
        return [row.concern.slug for row in self.skin_concern_rows]


class UserSkinConcern(Base):
    """A concern of a customer's skin profile (at most MAX_SKIN_CONCERNS, each once)."""

    __tablename__ = "user_skin_concerns"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    # indexed for the cascade when a concern is deleted
    concern_id: Mapped[int] = mapped_column(
        ForeignKey("concerns.id", ondelete="CASCADE"), primary_key=True, index=True)
    position: Mapped[int]

    concern: Mapped[Concern] = relationship(lazy="joined", innerjoin=True)


class Address(Base):
    """An entry in a customer's address book (orders keep their own snapshot)."""

    __tablename__ = "addresses"
    __table_args__ = (
        # At most one default address per user, whatever the application does.
        Index(
            "ix_addresses_one_default_per_user", "user_id", unique=True,
            sqlite_where=text("is_default"), postgresql_where=text("is_default"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    line1: Mapped[str] = mapped_column(String(200))
    line2: Mapped[str] = mapped_column(String(200), default="")
    city: Mapped[str] = mapped_column(String(100))
    postcode: Mapped[str] = mapped_column(String(10))
    country: Mapped[str] = mapped_column(String(2), default="GB")
    phone: Mapped[str] = mapped_column(String(30), default="")
    is_default: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    user: Mapped[User] = relationship(back_populates="addresses")


class TokenFamily(Base):
    """One sign-in session: the chain of refresh tokens rotated from one login."""

    __tablename__ = "token_families"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # what the customer sees in their list of sign-ins: the name the app gave the device at
    # sign-in, else the client's User-Agent
    device: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_refreshed_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    revoked_reason: Mapped[str | None] = mapped_column(String(40))

    user: Mapped[User] = relationship()


class AuthToken(Base):
    """An access or refresh token, stored only as the SHA-256 of its value."""

    __tablename__ = "auth_tokens"
    __table_args__ = (
        CheckConstraint("kind IN ('access', 'refresh')", name="kind"),
        Index("ix_auth_tokens_family_id_kind", "family_id", "kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    family_id: Mapped[int] = mapped_column(ForeignKey("token_families.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(10))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]

    family: Mapped[TokenFamily] = relationship()


class PasswordReset(Base):
    """A forgotten-password request, and once the worker has found its account and mailed it,
    its single-use token (stored only as the SHA-256 of its value).

    The API writes just the email address, the same row whether or not an account has it, so
    neither the answer nor its timing tells who has an account; the worker does the rest.
    """

    __tablename__ = "password_resets"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254))  # as asked, normalised
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(index=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime | None]
    used_at: Mapped[datetime | None]


class EmailChange(Base):
    """A signed-in customer's request to sign in with another address, and the single-use
    token mailed to that address to prove it is theirs (stored only as its SHA-256)."""

    __tablename__ = "email_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    new_email: Mapped[str] = mapped_column(String(254))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class RecoveryCode(Base):
    """A single-use two-factor recovery code, stored only as a keyed hash (accounts/otp.py)."""

    __tablename__ = "two_factor_recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # crypto.key_id of the VOUCHER_KEY the hash was made with (None: by an app older than
    # migration 0038), so
    # `flask keys status` can tell which codes still need a fallback key
    key_id: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    used_at: Mapped[datetime | None]
