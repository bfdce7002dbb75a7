"""Proving an account's email address is its owner's: a signed link mailed at registration
(and again on request). Nothing is stored but the time it was proved: the link is an
itsdangerous signature over the account and the address, so it stops working once the
address changes. A confirmed email change or a password reset proves the address too.

A marketing list should hold only proved addresses: anyone can register with anyone's.
"""

from __future__ import annotations

import logging

from flask import current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy.orm import Session

from shop import keyring
from shop.accounts import codes
from shop.accounts.models import User
from shop.db import utcnow
from shop.errors import BadRequest, Conflict
from shop.notifications import services as notifications

log = logging.getLogger(__name__)
SALT = "shop.accounts.email-verification"


def _signer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(keyring.signing_keys(), salt=SALT)


def send_link(*, session: Session, user: User) -> None:
    """Queue the email with a link proving the address (sealed: the link is a credential)."""
    if user.email_verified_at is not None:
        raise Conflict("This address is confirmed already.", code="email_already_verified")
    token = _signer().dumps({"user": user.id, "email": user.email})
    link = codes.mailed_link("EMAIL_VERIFY_URL", token)
    days = current_app.config["EMAIL_VERIFY_DAYS"]
    text = codes.email_text(
        user, "Please confirm this is your email address for your GLOW Clinic account.",
        [f"Confirm it here: {link}"] if link else ["Enter this code in the app:", token],
        f"The link works for {days} days. If you did not make an account, ignore this email.")
    notifications.enqueue_email(session=session, to=user.email, sealed=True, text=text,
                                subject="Confirm your GLOW Clinic email address")


def invalid_token() -> BadRequest:
    return BadRequest("This link is invalid or expired, or the address changed since; ask "
                      "for a new one.", code="invalid_verification_token",
                      errors={"token": ["Invalid or expired."]})


def confirm(*, session: Session, token: str) -> User:
    """Mark the address proved (harmless twice). Works signed out: the link opens anywhere."""
    max_age = current_app.config["EMAIL_VERIFY_DAYS"] * 86400
    try:
        claim = _signer().loads(token, max_age=max_age)
    except BadSignature:  # also SignatureExpired
        raise invalid_token() from None
    user = session.get(User, claim.get("user")) if isinstance(claim, dict) else None
    if user is None or not user.is_active or user.email != claim.get("email"):
        raise invalid_token()
    if user.email_verified_at is None:
        user.email_verified_at = utcnow()
        session.flush()
        log.info("email address confirmed", extra={"user_id": user.id})
    return user


def proved_by_mail(user: User) -> None:
    """The owner acted on a code mailed to the address (a reset, an email change)."""
    if user.email_verified_at is None:
        user.email_verified_at = utcnow()
