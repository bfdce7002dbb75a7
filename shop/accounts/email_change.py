"""Changing the address an account signs in with.

Asked for by the signed-in customer with their current password; proved by a single-use code
mailed (sealed) to the new address and entered while signed in to the same account, so a
mistyped address does not hand the account to whoever owns it; announced to the old address,
so an owner whose session was stolen hears of it. Until the code is used nothing changes.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shop.accounts import codes, passwords
from shop.accounts.auth import hash_token
from shop.accounts.models import EmailChange, User
from shop.accounts.services import (
    contact_changed_for,
    end_mailed_codes,
    find_user_by_email,
    normalise_email,
)
from shop.db import insert_now, utcnow
from shop.errors import BadRequest, Conflict, Unauthorized, ValidationFailed
from shop.notifications import services as notifications

log = logging.getLogger(__name__)


def _address_taken() -> Conflict:
    return Conflict("Another account uses this email address.", code="email_unavailable",
                    errors={"new_email": ["This email address cannot be used."]})


def request_change(*, session: Session, user: User, new_email: str, password: str) -> EmailChange:
    """Mail a code to `new_email` (and a notice to the current address)."""
    if not passwords.verify_password(user.password_hash, password):
        raise Unauthorized("The current password is incorrect.", code="invalid_current_password",
                           errors={"password": ["The current password is incorrect."]})
    new_email = normalise_email(new_email)
    if new_email == user.email:
        raise ValidationFailed("This is already your email address.", code="email_unchanged",
                               errors={"new_email": ["This is already your email address."]})
    if find_user_by_email(session=session, email=new_email) is not None:
        raise _address_taken()
    now, token = utcnow(), codes.new_code("ec")
    minutes = current_app.config["EMAIL_CHANGE_MINUTES"]
    change = EmailChange(user_id=user.id, new_email=new_email, token_hash=hash_token(token),
                         created_at=now, expires_at=now + timedelta(minutes=minutes))
    insert_now(session, change)
    _queue_code(session, user, new_email, token, minutes)
    _queue_notice(session, user, new_email)
    log.info("email change asked for", extra={"user_id": user.id})
    return change


def _queue_code(session: Session, user: User, new_email: str, token: str, minutes: int) -> None:
    link = codes.mailed_link("EMAIL_CHANGE_URL", token)
    how = ([f"Confirm it here, signed in to your account: {link}", "",
            "or enter this code in the app:"]
           if link else ["Enter this code where you asked for the change, signed in:"])
    text = codes.email_text(
        user, "You asked to sign in to your GLOW Clinic account with this address.",
        [*how, token],
        f"It works once, within {minutes} minutes. If you did not ask, ignore this email: "
        "nothing changes.",
    )
    notifications.enqueue_email(session=session, to=new_email, sealed=True, text=text,
                                subject="Confirm your new GLOW Clinic email address")


def _queue_notice(session: Session, user: User, new_email: str) -> None:
    text = codes.email_text(
        user,
        f"Someone signed in to your GLOW Clinic account asked to change its email address to "
        f"{new_email}. It changes only once a code we sent there is entered.",
        "If this was not you, reset your password now: that signs out every device and ends "
        "the request.",
    )
    notifications.enqueue_email(session=session, to=user.email, text=text,
                                subject="A change of email address was asked for")


def invalid_token() -> BadRequest:
    return BadRequest(
        "This code is invalid, used or expired, or was sent for another account; ask again.",
        code="invalid_email_change_token", errors={"token": ["Invalid, used or expired."]},
    )


def confirm_change(*, session: Session, user: User, token: str) -> User:
    """Switch the account to the address the code was mailed to."""
    now = utcnow()
    change = session.scalars(select(EmailChange).where(
        EmailChange.token_hash == hash_token(token), EmailChange.user_id == user.id)).first()
    if not codes.is_live(change, now) or not codes.spend(session, change, now):
        raise invalid_token()
    end_mailed_codes(session=session, user=user, now=now)
    old_email, old_verified = user.email, user.email_verified_at
    try:
        with session.begin_nested():  # another account may have taken the address since
            user.email, user.email_verified_at = change.new_email, now  # the code proved it
            session.flush()
    except IntegrityError:
        user.email, user.email_verified_at = old_email, old_verified
        raise _address_taken() from None
    contact_changed_for(session=session, user=user)
    log.info("email changed", extra={"user_id": user.id})
    return user


def export_changes(*, session: Session, user: User) -> list[dict]:
    """The account's email changes for its data export: when and to what, never the code."""
    rows = session.scalars(select(EmailChange).where(EmailChange.user_id == user.id)
                           .order_by(EmailChange.id))
    when = codes.when
    return [{"new_email": change.new_email, "requested_at": when(change.created_at),
             "expires_at": when(change.expires_at), "used_at": when(change.used_at)}
            for change in rows]
