"""Turning two-factor sign-in on and off, and what the account's data export and deletion do
with it. The codes themselves are checked in accounts/otp.py."""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass

import segno
from sqlalchemy.orm import Session

from shop.accounts import codes, otp, passwords
from shop.accounts.auth import lock_signed_in_account
from shop.accounts.models import User
from shop.accounts.services import revoke_all_families
from shop.audit import record as audit_record
from shop.db import utcnow
from shop.errors import BadRequest, Conflict, Unauthorized
from shop.notifications import services as notifications

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Setup:
    secret: str
    otpauth_uri: str
    qr_svg: str


@dataclass(frozen=True)
class Enabled:
    recovery_codes: list[str]
    sessions_revoked: int


def _already_enabled() -> Conflict:
    return Conflict("Two-factor sign-in is already on.", code="two_factor_enabled")


def start_setup(*, session: Session, user: User) -> Setup:
    """A fresh secret for the authenticator app, pending until a code from it is confirmed
    (asking again replaces a pending one)."""
    lock_signed_in_account(session=session, user=user)
    if user.two_factor_enabled:
        raise _already_enabled()
    secret = otp.new_secret()
    user.two_factor_secret = otp.seal_secret(user, secret)
    session.flush()
    uri = otp.provisioning_uri(user, secret)
    buffer = io.BytesIO()
    segno.make(uri, error="m").save(buffer, kind="svg", xmldecl=False, scale=4, border=2)
    log.info("two-factor setup started", extra={"user_id": user.id})
    return Setup(secret=secret, otpauth_uri=uri, qr_svg=buffer.getvalue().decode())


def _not_enabled() -> Conflict:
    return Conflict("Two-factor sign-in is not on.", code="two_factor_not_enabled")


def _accept_code(session: Session, user: User, code: str) -> None:
    """A TOTP or recovery code, spent; else 401."""
    if not otp.accept_code(session=session, user=user, code=code):
        raise Unauthorized("The code is wrong or was already used.", code="invalid_otp",
                           errors={"code": ["Wrong or already used."]})


def _check_password(user: User, password: str) -> None:
    if not passwords.verify_password(user.password_hash, password):
        raise Unauthorized("The password is incorrect.", code="invalid_current_password",
                           errors={"password": ["The password is incorrect."]})


def confirm(*, session: Session, user: User, password: str, code: str,
            keep_family_id: int | None) -> Enabled:
    """Turn two-factor on with the password (so that whoever stole a session cannot enrol
    their own app and shut the owner out) and a code from the pending secret: fresh recovery
    codes, and every other session signed out (as a password change does)."""
    lock_signed_in_account(session=session, user=user)
    if user.two_factor_enabled:
        raise _already_enabled()
    if user.two_factor_secret is None:
        raise Conflict("Start with POST /me/two-factor/setup.", code="two_factor_not_set_up")
    _check_password(user, password)
    if not otp.accept_totp(session=session, user=user, code=code):
        raise BadRequest("The code is wrong or was already used; check the app's clock.",
                         code="invalid_otp", errors={"code": ["Wrong or already used."]})
    user.two_factor_enabled_at = utcnow()
    recovery_codes = otp.new_recovery_codes(session=session, user=user)
    revoked = revoke_all_families(session=session, user=user, reason="two_factor_enabled",
                                  keep_family_id=keep_family_id)
    _record(session, user, "two_factor.enable", before=False, after=True)
    _notify(session, user, "Two-step sign-in is now on for your GLOW Clinic account.")
    log.info("two-factor enabled", extra={"user_id": user.id, "sessions_revoked": revoked})
    return Enabled(recovery_codes=recovery_codes, sessions_revoked=revoked)


def disable(*, session: Session, user: User, password: str, code: str,
            keep_family_id: int | None) -> int:
    """Turn two-factor off with the password and a TOTP or recovery code; every other
    session is signed out. Returns how many were."""
    lock_signed_in_account(session=session, user=user)
    if not user.two_factor_enabled:
        raise _not_enabled()
    _check_password(user, password)
    _accept_code(session, user, code)
    forget(session=session, user=user)
    revoked = revoke_all_families(session=session, user=user, reason="two_factor_disabled",
                                  keep_family_id=keep_family_id)
    _record(session, user, "two_factor.disable", before=True, after=False)
    _notify(session, user, "Two-step sign-in was turned off for your GLOW Clinic account: "
                           "your password alone now signs in.",
            "If this was not you, reset your password now and turn it on again.")
    log.info("two-factor disabled", extra={"user_id": user.id, "sessions_revoked": revoked})
    return revoked


def renew_recovery_codes(*, session: Session, user: User, password: str, code: str) -> list[str]:
    """Ten new recovery codes in place of the old ones (used up, lost, or made under a key
    since rotated), with the password and a code from the app or a recovery code."""
    lock_signed_in_account(session=session, user=user)
    if not user.two_factor_enabled:
        raise _not_enabled()
    _check_password(user, password)
    _accept_code(session, user, code)
    fresh = otp.new_recovery_codes(session=session, user=user)
    if user.is_staff:
        audit_record(session=session, actor=user, action="two_factor.recovery_codes",
                     entity="user", entity_id=str(user.id), before=None, after=None)
    _notify(session, user, "New recovery codes were made for your GLOW Clinic account: the "
                           "earlier ones no longer work.",
            "If this was not you, reset your password now.")
    log.info("two-factor recovery codes renewed", extra={"user_id": user.id})
    return fresh


def reset_by_admin(*, session: Session, user: User) -> None:
    """Someone lost the app and the recovery codes: an admin turns two-factor off (the staff or
    customer update's audit entry records it); every session is signed out, and the owner is
    told and may enrol again once signed in with the password."""
    if not user.two_factor_enabled:
        return
    forget(session=session, user=user)
    revoke_all_families(session=session, user=user, reason="two_factor_reset")
    _notify(session, user, "An administrator turned two-step sign-in off for your GLOW Clinic "
                           "account: sign in with your password and turn it on again.",
            "If you did not ask for this, tell the clinic now.")


def forget(*, session: Session, user: User) -> None:
    """Two-factor off, its secret and recovery codes gone (disabling it, deleting the
    account)."""
    otp.clear_recovery_codes(session=session, user=user)
    user.two_factor_secret = None
    user.two_factor_enabled_at = None
    user.two_factor_last_step = None
    session.flush()


def _record(session: Session, user: User, action: str, *, before: bool, after: bool) -> None:
    # The audit log is the staff's trail; a customer's own settings are not staff writes.
    if user.is_staff:
        audit_record(session=session, actor=user, action=action, entity="user",
                     entity_id=str(user.id), before={"two_factor": before},
                     after={"two_factor": after})


def _notify(session: Session, user: User, *paragraphs: str) -> None:
    notifications.enqueue_email(
        session=session, to=user.email, subject="Two-step sign-in changed",
        text=codes.email_text(user, *paragraphs))


def export(*, session: Session, user: User) -> dict:
    """For the data export: whether it is on and since when, never the secret or codes."""
    return {
        "enabled": user.two_factor_enabled,
        "enabled_at": codes.when(user.two_factor_enabled_at),
        "recovery_codes_left": otp.recovery_codes_left(session=session, user=user),
    }
