"""Password hashing (Argon2id through argon2-cffi) and the password policy.

The hash cost comes from settings (PASSWORD_HASH_TIME_COST, PASSWORD_HASH_MEMORY_COST,
PASSWORD_HASH_PARALLELISM) so tests can use cheap parameters; the defaults are argon2-cffi's
(RFC 9106 low-memory profile: t=3, m=64 MiB, p=4). Hashes made with older parameters are
upgraded at the next successful sign-in.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app

from shop.errors import ValidationFailed

MIN_LENGTH = 10
MAX_LENGTH = 1024  # hashing is deliberately slow; refuse absurd inputs before it starts
UNUSABLE_PREFIX = "!"
COMMON_PASSWORDS_FILE = Path(__file__).with_name("common-passwords.txt")


@cache
def common_passwords() -> frozenset[str]:
    lines = COMMON_PASSWORDS_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(
        line.strip().lower() for line in lines if line.strip() and not line.startswith("#")
    )


def hasher() -> PasswordHasher:
    """The app's hasher, built once per app from its settings."""
    extensions = current_app.extensions
    if "password_hasher" not in extensions:
        config = current_app.config
        extensions["password_hasher"] = PasswordHasher(
            time_cost=config["PASSWORD_HASH_TIME_COST"],
            memory_cost=config["PASSWORD_HASH_MEMORY_COST"],
            parallelism=config["PASSWORD_HASH_PARALLELISM"],
        )
    return extensions["password_hasher"]


def _dummy_hash() -> str:
    extensions = current_app.extensions
    if "password_dummy_hash" not in extensions:
        extensions["password_dummy_hash"] = hasher().hash("not-a-real-password-dummy")
    return extensions["password_dummy_hash"]


def hash_password(password: str) -> str:
    return hasher().hash(password)


def unusable_password() -> str:
    """A value no password verifies against (deleted accounts)."""
    return UNUSABLE_PREFIX + "unusable"


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when the password matches. Costs one full Argon2 verification whatever the input,
    so an unknown email or an unusable hash takes as long as a wrong password."""
    usable = bool(password_hash) and not password_hash.startswith(UNUSABLE_PREFIX)
    try:
        matched = hasher().verify(password_hash if usable else _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        return False
    return matched and usable


def needs_rehash(password_hash: str) -> bool:
    return hasher().check_needs_rehash(password_hash)


def check_policy(password: str, *, email: str, field: str = "password") -> None:
    """Refuse short, over-long, email-derived and common passwords (422 with field errors)."""
    problems = []
    if len(password) < MIN_LENGTH:
        problems.append(f"Use at least {MIN_LENGTH} characters.")
    elif len(password) > MAX_LENGTH:
        problems.append(f"Use at most {MAX_LENGTH} characters.")
    lowered = password.strip().lower()
    local_part = email.split("@", 1)[0].lower()
    if lowered in (email.lower(), local_part):
        problems.append("The password must not be your email address.")
    elif lowered in common_passwords():
        problems.append("This password is too common; choose another.")
    if problems:
        raise ValidationFailed(
            "The password does not meet the policy.", code="weak_password",
            errors={field: problems},
        )
