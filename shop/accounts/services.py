"""Accounts: registration, sign-in, token rotation, profile, password and account deletion.

Services flush, never commit. One exception needs the route's help: a reused refresh token
revokes its family *and* fails the request, so the route commits before re-raising
RefreshTokenReused (see routes.refresh_tokens).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shop.accounts import codes, otp, passwords, skin_profile
from shop.accounts.auth import (
    access_lifetime,
    hash_token,
    issue_token,
    lock_signed_in_account,
    refresh_lifetime,
)
from shop.accounts.models import (
    Address,
    AuthToken,
    EmailChange,
    PasswordReset,
    TokenFamily,
    User,
    UserSkinConcern,
)
from shop.db import as_utc, utcnow
from shop.errors import Conflict, NotFound, Unauthorized

log = logging.getLogger(__name__)

# Other domains hook in here with fn(*, session, user). on_account_deleted runs before
# anonymisation (payments erases the Stripe Customer); orders keep their own snapshots.
# on_contact_changed runs after the name or sign-in email changed (payments copies it to the
# Stripe Customer). on_marketing_withdrawn runs when the customer turns marketing off (carts
# drops the reminders still queued).
on_account_deleted: list[Callable[..., None]] = []
on_contact_changed: list[Callable[..., None]] = []
on_marketing_withdrawn: list[Callable[..., None]] = []


class RefreshTokenReused(Unauthorized):
    """A refresh token came back after it was used: its family is revoked (flushed)."""

    code = "refresh_token_reused"


@dataclass(frozen=True)
class IssuedTokens:
    access_token: str
    refresh_token: str
    expires_in: int
    user: User
    family_id: int
    token_type: str = "Bearer"


def normalise_email(email: str) -> str:
    return email.strip().lower()


def find_user_by_email(*, session: Session, email: str) -> User | None:
    return session.scalars(select(User).where(User.email == normalise_email(email))).first()


def start_session(*, session: Session, user: User, device: str | None = None) -> IssuedTokens:
    """A new token family with its first access and refresh tokens."""
    family = TokenFamily(user=user, device=device)
    session.add(family)
    return _issue_pair(session=session, family=family, user=user)


def _issue_pair(*, session: Session, family: TokenFamily, user: User) -> IssuedTokens:
    lifetime = access_lifetime()
    access_token = issue_token(session=session, family=family, kind="access", lifetime=lifetime)
    refresh_token = issue_token(
        session=session, family=family, kind="refresh", lifetime=refresh_lifetime()
    )
    session.flush()
    return IssuedTokens(
        access_token=access_token, refresh_token=refresh_token,
        expires_in=int(lifetime.total_seconds()), user=user, family_id=family.id,
    )


def register(
    *, session: Session, email: str, password: str, name: str, marketing_consent: bool = False,
    device: str | None = None,
) -> IssuedTokens:
    """Create a customer account and sign it in."""
    email = normalise_email(email)
    passwords.check_policy(password, email=email)
    # Hash before looking the email up: a taken address costs the same time as a free one.
    password_hash = passwords.hash_password(password)
    now = utcnow()
    user = User(
        email=email, password_hash=password_hash, name=name.strip(), role="customer",
        marketing_consent=marketing_consent,
        marketing_consent_at=now if marketing_consent else None,
        password_changed_at=now, last_login_at=now,
    )
    try:
        with session.begin_nested():
            session.add(user)
            session.flush()
    except IntegrityError:
        raise email_unavailable() from None
    log.info("account registered", extra={"user_id": user.id})
    return start_session(session=session, user=user, device=device)


def email_unavailable() -> Conflict:
    return Conflict(
        "This email address cannot be used to register. If it is yours, sign in or reset "
        "the password.",
        code="email_unavailable", errors={"email": ["This email address cannot be used."]},
    )


def authenticate(
    *, session: Session, email: str, password: str, otp_code: str | None = None,
    device: str | None = None,
) -> IssuedTokens:
    """Check an email and password (same cost whether or not the account exists), then the
    second factor of an account with two-factor on."""
    user = find_user_by_email(session=session, email=email)
    stored_hash = user.password_hash if user is not None and user.is_active else None
    if not passwords.verify_password(stored_hash, password):
        log.info("sign-in refused", extra={"user_id": user.id if user else None})
        raise Unauthorized("The email or password is incorrect.", code="invalid_credentials")
    try:
        otp.check_sign_in(session=session, user=user, otp=otp_code)
    except Unauthorized as refused:
        log.info("sign-in refused", extra={"user_id": user.id, "reason": refused.code})
        raise
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    user.last_login_at = utcnow()
    log.info("signed in", extra={"user_id": user.id})
    return start_session(session=session, user=user, device=device)


def _invalid_refresh_token() -> Unauthorized:
    return Unauthorized(
        "The refresh token is invalid, expired or revoked; sign in again.",
        code="invalid_refresh_token",
    )


def refresh(*, session: Session, refresh_token: str) -> IssuedTokens:
    """Trade a refresh token for a new pair. Each refresh token works once; a second use
    means it was copied, so the whole family (every token of that sign-in) is revoked."""
    token = session.scalars(
        select(AuthToken).where(
            AuthToken.token_hash == hash_token(refresh_token), AuthToken.kind == "refresh"
        )
    ).first()
    if token is None:
        raise _invalid_refresh_token()
    family = session.get(TokenFamily, token.family_id)
    if family.revoked_at is not None or not family.user.is_active:
        raise _invalid_refresh_token()
    now = utcnow()
    if not codes.spend(session, token, now):  # of two concurrent refreshes, one gets it
        revoke_family(session=session, family=family, reason="refresh_token_reuse")
        log.warning("refresh token reused; family revoked", extra={"family_id": family.id})
        raise RefreshTokenReused(
            "This refresh token was already used; every session token of this sign-in "
            "has been revoked. Sign in again."
        )
    session.expire(token)
    if as_utc(token.expires_at) <= now:
        raise _invalid_refresh_token()
    family.last_refreshed_at = now
    return _issue_pair(session=session, family=family, user=family.user)


def revoke_family(*, session: Session, family: TokenFamily, reason: str) -> None:
    if family.revoked_at is None:
        family.revoked_at = utcnow()
        family.revoked_reason = reason
    session.flush()


def logout(*, session: Session, family_id: int) -> None:
    family = session.get(TokenFamily, family_id)
    if family is not None:
        revoke_family(session=session, family=family, reason="logout")


def revoke_all_families(
    *, session: Session, user: User, reason: str, keep_family_id: int | None = None
) -> int:
    """Revoke every live session of a user (except keep_family_id); how many were revoked."""
    statement = (
        update(TokenFamily)
        .where(TokenFamily.user_id == user.id, TokenFamily.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoked_reason=reason)
        .execution_options(synchronize_session="fetch")
    )
    if keep_family_id is not None:
        statement = statement.where(TokenFamily.id != keep_family_id)
    return session.execute(statement).rowcount


def end_mailed_codes(*, session: Session, user: User, now: datetime) -> None:
    """Every password reset and email change code still waiting for this account stops
    working. Run when the password is changed or reset, or the email address changed: a code
    mailed before that (to an address perhaps no longer the owner's) must not undo it."""
    for model in (PasswordReset, EmailChange):
        session.execute(
            update(model).where(model.user_id == user.id, model.used_at.is_(None))
            .values(used_at=now).execution_options(synchronize_session=False)
        )


def change_password(
    *, session: Session, user: User, current_password: str, new_password: str,
    keep_family_id: int | None,
) -> int:
    """Set a new password; every other session is signed out. Returns how many were."""
    if not passwords.verify_password(user.password_hash, current_password):
        raise Unauthorized(
            "The current password is incorrect.", code="invalid_current_password",
            errors={"current_password": ["The current password is incorrect."]},
        )
    passwords.check_policy(new_password, email=user.email, field="new_password")
    user.password_hash = passwords.hash_password(new_password)
    user.password_changed_at = utcnow()
    end_mailed_codes(session=session, user=user, now=user.password_changed_at)
    revoked = revoke_all_families(
        session=session, user=user, reason="password_changed", keep_family_id=keep_family_id
    )
    session.flush()
    log.info("password changed", extra={"user_id": user.id, "sessions_revoked": revoked})
    return revoked


def update_profile(*, session: Session, user: User, changes: dict[str, Any]) -> User:
    """Change name, marketing consent, the default address and the skin profile: with the
    account's row held, so a change that waited for the account's deletion is refused rather
    than written onto the anonymised row."""
    lock_signed_in_account(session=session, user=user)
    if "skin_type" in changes or "concerns" in changes:
        skin_profile.update(session=session, user=user, changes=changes)
    contact_changed = "name" in changes and changes["name"].strip() != user.name
    if contact_changed:
        user.name = changes["name"].strip()
    if "marketing_consent" in changes and changes["marketing_consent"] != user.marketing_consent:
        user.marketing_consent = changes["marketing_consent"]
        user.marketing_consent_at = utcnow() if user.marketing_consent else None
        if not user.marketing_consent:
            for hook in on_marketing_withdrawn:
                hook(session=session, user=user)
    if "default_address_id" in changes:
        from shop.accounts import addresses

        address_id = changes["default_address_id"]
        if address_id is None:
            addresses.clear_default(session=session, user=user)
        else:
            address = addresses.get_address(session=session, user=user, address_id=address_id)
            addresses.make_default(session=session, user=user, address=address)
    session.flush()
    if contact_changed:
        contact_changed_for(session=session, user=user)
    return user


def contact_changed_for(*, session: Session, user: User) -> None:
    for hook in on_contact_changed:
        hook(session=session, user=user)


def delete_account(*, session: Session, user: User) -> None:
    """Erase the personal data of an account; the row stays, anonymised, for the orders and
    ledgers that point at it."""
    if user.is_staff:
        raise Conflict(
            "Staff accounts are closed by an admin, not deleted by their owner.",
            code="staff_account",
        )
    # as the row is now, and locked: a first checkout may have just given it a Stripe Customer
    session.refresh(user, with_for_update=True)
    for hook in on_account_deleted:
        hook(session=session, user=user)
    revoke_all_families(session=session, user=user, reason="account_deleted")
    session.execute(update(TokenFamily).where(TokenFamily.user_id == user.id)
                    .values(device=None).execution_options(synchronize_session=False))
    session.execute(delete(Address).where(Address.user_id == user.id))
    session.execute(delete(PasswordReset).where(
        or_(PasswordReset.user_id == user.id, PasswordReset.email == user.email)))
    session.execute(delete(EmailChange).where(EmailChange.user_id == user.id))
    session.execute(delete(UserSkinConcern).where(UserSkinConcern.user_id == user.id))
    session.expire(user, ["addresses", "skin_concern_rows"])
    user.email = f"deleted-{user.id}@invalid.example"
    user.name = ""
    user.password_hash = passwords.unusable_password()
    user.marketing_consent = False
    user.marketing_consent_at = None
    user.stripe_customer_id = None
    user.skin_type = None
    user.last_login_at = None
    user.deleted_at = utcnow()
    session.flush()
    log.info("account deleted and anonymised", extra={"user_id": user.id})


def list_sessions(*, session: Session, user: User) -> list[TokenFamily]:
    return list(session.scalars(
        select(TokenFamily).where(TokenFamily.user_id == user.id).order_by(TokenFamily.id)
    ))


def live_sessions(*, session: Session, user: User) -> list[TokenFamily]:
    """The sign-ins that can still be used: not revoked, with a refresh token still valid."""
    usable_refresh_token = select(AuthToken.id).where(
        AuthToken.family_id == TokenFamily.id, AuthToken.kind == "refresh",
        AuthToken.used_at.is_(None), AuthToken.expires_at > utcnow(),
    ).exists()
    return list(session.scalars(
        select(TokenFamily)
        .where(TokenFamily.user_id == user.id, TokenFamily.revoked_at.is_(None),
               usable_refresh_token)
        .order_by(func.coalesce(TokenFamily.last_refreshed_at, TokenFamily.created_at).desc(),
                  TokenFamily.id.desc())
    ))


def end_session(*, session: Session, user: User, family_id: int) -> None:
    """Sign one of the user's sessions out (a lost phone, a shared computer)."""
    family = session.get(TokenFamily, family_id)
    if family is None or family.user_id != user.id or family.revoked_at is not None:
        raise NotFound("No such signed-in session.", code="session_not_found")
    revoke_family(session=session, family=family, reason="signed_out_remotely")
    log.info("session signed out remotely", extra={"user_id": user.id, "family_id": family_id})


def get_user(*, session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("No such account.", code="account_not_found")
    return user
