"""The second factor of a sign-in: TOTP codes (RFC 6238, through pyotp) and recovery codes.

The TOTP secret is stored sealed (AES-256-GCM under a key derived from VOUCHER_KEY, bound to
the account's id), so a copy of the database alone cannot make codes. A code is accepted for
the time step before, at or after now (clocks drift), and once only: the step it was made
for is claimed with a conditional UPDATE, and that step or an earlier one is refused after.
Recovery codes are kept only as an HMAC (its key also derived from VOUCHER_KEY) and spent
with the conditional UPDATE of accounts/codes.py, so of two concurrent uses one wins.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import datetime

import pyotp
from flask import current_app
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from shop import crypto, keyring
from shop.accounts import codes
from shop.accounts.models import RecoveryCode, User
from shop.db import utcnow
from shop.errors import Unauthorized

SALT = b"shop-two-factor"
RECOVERY_CODE_COUNT = 10
RECOVERY_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U
RECOVERY_GROUPS, RECOVERY_GROUP = 3, 4  # three groups of four, e.g. 7K2M-9QHD-H4TB: 60 bits
_LOOKALIKES = str.maketrans({"O": "0", "I": "1", "L": "1"})
_IGNORED = str.maketrans("", "", " -\t")


def _key(info: bytes, voucher_key: str | None = None) -> bytes:
    """A key derived from VOUCHER_KEY, or from the earlier `voucher_key` given."""
    return crypto.derive_key(voucher_key or current_app.config["VOUCHER_KEY"], salt=SALT,
                             info=info)


def _secret_aad(user: User) -> bytes:
    return f"shop:two-factor-secret:v1:{user.id}".encode()


def new_secret() -> str:
    return pyotp.random_base32()  # 160 bits, as RFC 4226 recommends


def seal_secret(user: User, secret: str) -> str:
    sealed = crypto.seal(_key(b"totp secret v1"), secret.encode(), aad=_secret_aad(user))
    return base64.b64encode(sealed).decode("ascii")


def open_secret(user: User) -> str:
    return opened_secret(user)[0]


def opened_secret(user: User) -> tuple[str, str]:
    """The TOTP secret, and which VOUCHER_KEY (current or a fallback) it was sealed under."""
    sealed = base64.b64decode(user.two_factor_secret)
    for voucher_key in keyring.voucher_secrets():
        try:
            key = _key(b"totp secret v1", voucher_key)
            return crypto.unseal(key, sealed, aad=_secret_aad(user)).decode(), voucher_key
        except crypto.UnsealError:
            continue
    raise crypto.UnsealError("the two-factor secret opens with no listed VOUCHER_KEY")


def provisioning_uri(user: User, secret: str) -> str:
    """The otpauth:// URI an authenticator app reads (from a QR code or a link)."""
    return pyotp.TOTP(secret).provisioning_uri(
        name=user.email, issuer_name=current_app.config["SELLER_NAME"])


def _matching_step(secret: str, code: str, now: datetime) -> int | None:
    """The newest time step, of the one before now to the one after, the code was made for."""
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    matches = [step for step in (current - 1, current, current + 1)
               if hmac.compare_digest(totp.generate_otp(step), code)]
    return max(matches, default=None)


def _claim_step(session: Session, user: User, step: int) -> bool:
    """Record the step as used unless it (or a later one) already was; of two concurrent
    uses of one code, one matches the row."""
    claimed = session.execute(
        update(User).where(User.id == user.id, or_(User.two_factor_last_step.is_(None),
                                                   User.two_factor_last_step < step))
        .values(two_factor_last_step=step).execution_options(synchronize_session=False)
    ).rowcount == 1
    if claimed:
        set_committed_value(user, "two_factor_last_step", step)
    return claimed


def accept_totp(*, session: Session, user: User, code: str) -> bool:
    """Whether a 6-digit code from the account's (pending or enabled) secret is good now,
    spending it."""
    code = code.translate(_IGNORED)
    if user.two_factor_secret is None or len(code) != 6 or not code.isdigit():
        return False
    step = _matching_step(open_secret(user), code, utcnow())
    return step is not None and _claim_step(session, user, step)


def normalise_recovery_code(raw: str) -> str:
    return raw.translate(_IGNORED).upper().translate(_LOOKALIKES)


def _recovery_hash(user: User, code: str, voucher_key: str | None = None) -> str:
    message = f"{user.id}:{normalise_recovery_code(code)}".encode()
    return hmac.new(_key(b"recovery code v1", voucher_key), message, hashlib.sha256).hexdigest()


def new_recovery_codes(*, session: Session, user: User) -> list[str]:
    """Replace the account's recovery codes with fresh ones; the codes, shown once."""
    clear_recovery_codes(session=session, user=user)
    size = RECOVERY_GROUPS * RECOVERY_GROUP
    fresh = ["".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(size))
             for _ in range(RECOVERY_CODE_COUNT)]
    key_id = crypto.key_id(current_app.config["VOUCHER_KEY"])
    session.add_all(RecoveryCode(user_id=user.id, code_hash=_recovery_hash(user, code),
                                 key_id=key_id)
                    for code in fresh)
    session.flush()
    return ["-".join(code[i:i + RECOVERY_GROUP] for i in range(0, size, RECOVERY_GROUP))
            for code in fresh]


def clear_recovery_codes(*, session: Session, user: User) -> None:
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))


def spend_recovery_code(*, session: Session, user: User, code: str) -> bool:
    """A keyed hash cannot be re-keyed: codes made before a rotation are looked up under the
    fallback they were made with."""
    hashes = [_recovery_hash(user, code, each) for each in keyring.voucher_secrets()]
    row = session.scalars(select(RecoveryCode).where(
        RecoveryCode.user_id == user.id, RecoveryCode.code_hash.in_(hashes),
    )).first()
    return row is not None and row.used_at is None and codes.spend(session, row, utcnow())


def recovery_codes_left(*, session: Session, user: User) -> int:
    return session.scalar(select(func.count()).select_from(RecoveryCode).where(
        RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None)))


def accept_code(*, session: Session, user: User, code: str) -> bool:
    """A TOTP code or an unused recovery code, spent if good."""
    if accept_totp(session=session, user=user, code=code):
        return True
    plain = code.translate(_IGNORED)
    if len(plain) != RECOVERY_GROUPS * RECOVERY_GROUP:
        return False
    return spend_recovery_code(session=session, user=user, code=plain)


def check_sign_in(*, session: Session, user: User, otp: str | None) -> None:
    """The second factor of a sign-in whose password was right, for an account with two-factor
    on: a missing code asks for one, a wrong or used one is refused."""
    if not user.two_factor_enabled:
        return
    if not otp:
        raise Unauthorized("Enter the code from your authenticator app.", code="otp_required")
    if not accept_code(session=session, user=user, code=otp):
        raise Unauthorized("The code is wrong or was already used.", code="invalid_otp",
                           errors={"otp": ["Wrong or already used."]})
