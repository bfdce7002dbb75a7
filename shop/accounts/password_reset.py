"""Forgotten passwords: a request by email address, a single-use token mailed by the worker,
and a new password set with that token.

The request writes one row holding the address and nothing else, whatever the address, so the
answer and its timing are the same whether or not an account has it. The worker's job finds
the account, stores the SHA-256 of a new token and queues the email (sealed: the token is a
key to the account); a request for an address no active account has is deleted unanswered.
Using the token sets the password, ends every other link mailed to the account and signs out
every session, as a password change does.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from shop.accounts import codes, passwords, verification
from shop.accounts.auth import hash_token
from shop.accounts.models import PasswordReset, User
from shop.accounts.services import (
    end_mailed_codes,
    find_user_by_email,
    normalise_email,
    revoke_all_families,
)
from shop.db import insert_now, utcnow
from shop.errors import BadRequest
from shop.notifications import services as notifications

log = logging.getLogger(__name__)


def request_reset(*, session: Session, email: str) -> None:
    """Queue a reset for `email`: the worker mails a link if an active account has it."""
    insert_now(session, PasswordReset(email=normalise_email(email), requested_at=utcnow()))


def lifetime() -> timedelta:
    return timedelta(minutes=current_app.config["PASSWORD_RESET_MINUTES"])


def send_reset_emails(*, session: Session, now: datetime, limit: int) -> int:
    """Answer up to `limit` requests, oldest first; returns how many were taken."""
    pending = session.scalars(
        select(PasswordReset).where(PasswordReset.processed_at.is_(None))
        .order_by(PasswordReset.id).limit(limit).with_for_update(skip_locked=True)
    ).all()
    for reset in pending:
        user = find_user_by_email(session=session, email=reset.email)
        if user is None or not user.is_active:
            session.delete(reset)  # nobody to write to, and no trace of the address kept
            continue
        token = codes.new_code("pr")
        reset.user_id, reset.token_hash = user.id, hash_token(token)
        reset.processed_at, reset.expires_at = now, now + lifetime()
        _queue_email(session, user, token)
        log.info("password reset link queued", extra={"user_id": user.id})
    session.flush()
    return len(pending)


def _queue_email(session: Session, user: User, token: str) -> None:
    minutes = current_app.config["PASSWORD_RESET_MINUTES"]
    link = codes.mailed_link("PASSWORD_RESET_URL", token)
    how = ([f"Choose a new password here: {link}", "", "or enter this code in the app:"]
           if link else ["Enter this code where you asked for the reset:"])
    text = codes.email_text(
        user, "You asked to reset the password of your GLOW Clinic account.", [*how, token],
        f"It works once, within {minutes} minutes, and signs out every device that is signed "
        "in. If you did not ask, ignore this email: your password stays as it is.",
    )
    notifications.enqueue_email(session=session, to=user.email, sealed=True, text=text,
                                subject="Reset your GLOW Clinic password")


def invalid_token() -> BadRequest:
    return BadRequest(
        "This reset link is invalid, used or expired; ask for a new one.",
        code="invalid_reset_token", errors={"token": ["Invalid, used or expired."]},
    )


def reset_password(*, session: Session, token: str, new_password: str) -> int:
    """Set a new password with a mailed token; returns how many sessions were signed out."""
    now = utcnow()
    reset = session.scalars(
        select(PasswordReset).where(PasswordReset.token_hash == hash_token(token))
    ).first()
    if not codes.is_live(reset, now):
        raise invalid_token()
    user = session.get(User, reset.user_id)
    if user is None or not user.is_active:
        raise invalid_token()
    # Checked before the token is spent: a weak password leaves the link usable.
    passwords.check_policy(new_password, email=user.email, field="new_password")
    if not codes.spend(session, reset, now):
        raise invalid_token()
    end_mailed_codes(session=session, user=user, now=now)  # every other code mailed to it
    user.password_hash = passwords.hash_password(new_password)
    user.password_changed_at = now
    verification.proved_by_mail(user)
    revoked = revoke_all_families(session=session, user=user, reason="password_reset")
    session.flush()
    log.info("password reset", extra={"user_id": user.id, "sessions_revoked": revoked})
    return revoked


def export_resets(*, session: Session, user: User) -> list[dict]:
    """The account's password resets for its data export: when, never the code."""
    rows = session.scalars(
        select(PasswordReset)
        .where(or_(PasswordReset.user_id == user.id, PasswordReset.email == user.email))
        .order_by(PasswordReset.id)
    )
    when = codes.when
    return [{"requested_at": when(reset.requested_at), "mailed_at": when(reset.processed_at),
             "expires_at": when(reset.expires_at), "used_at": when(reset.used_at)}
            for reset in rows]
