"""Voucher codes: generation, normalisation, keyed look-up hash and encryption at rest.

A code is 16 characters of Crockford base32 (no I, L, O or U: 32 symbols, 5 bits each, so
80 random bits), shown as XXXX-XXXX-XXXX-XXXX. The database keeps only an HMAC of the code
(for look-ups) and the code encrypted with AES-GCM; both keys are derived with HKDF from
VOUCHER_KEY, so a copy of the database alone reveals no usable code.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Sequence

from shop import crypto

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 16
GROUP = 4
# Crockford's decoding rules: read the look-alikes as the symbols they resemble.
_LOOKALIKES = str.maketrans({"O": "0", "I": "1", "L": "1"})
_IGNORED = str.maketrans("", "", " -\t\r\n")
_AAD = b"shop:voucher-code:v1"


class CodeDecryptionError(RuntimeError):
    """The stored code cannot be decrypted: VOUCHER_KEY changed, or the row was tampered with."""


def generate_code() -> str:
    """A fresh random code, normalised (no dashes)."""
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def normalise(raw: str) -> str:
    """Upper-case, drop spaces and dashes, read O as 0 and I/L as 1."""
    return raw.translate(_IGNORED).upper().translate(_LOOKALIKES)


def is_well_formed(code: str) -> bool:
    return len(code) == CODE_LENGTH and all(char in ALPHABET for char in code)


def display(code: str) -> str:
    """XXXX-XXXX-XXXX-XXXX."""
    return "-".join(code[i:i + GROUP] for i in range(0, len(code), GROUP))


def last4(code: str) -> str:
    return code[-GROUP:]


def _derive(secret: str, purpose: bytes) -> bytes:
    return crypto.derive_key(secret, salt=b"shop-vouchers", info=purpose)


def lookup_hash(code: str, *, secret: str) -> str:
    """HMAC-SHA256 of the normalised code under a key derived from VOUCHER_KEY (hex)."""
    key = _derive(secret, b"voucher code lookup v1")
    return hmac.new(key, normalise(code).encode(), hashlib.sha256).hexdigest()


def encrypt(code: str, *, secret: str) -> str:
    """AES-256-GCM with a random nonce; stored as base64(nonce || ciphertext || tag)."""
    key = _derive(secret, b"voucher code encryption v1")
    return base64.b64encode(crypto.seal(key, normalise(code).encode(), aad=_AAD)).decode("ascii")


def decrypt(token: str, *, secret: str) -> str:
    key = _derive(secret, b"voucher code encryption v1")
    try:
        return crypto.unseal(key, base64.b64decode(token), aad=_AAD).decode()
    except crypto.UnsealError as exc:
        raise CodeDecryptionError("voucher code cannot be decrypted with this VOUCHER_KEY") from exc


def decrypt_with_any(token: str, *, secrets: Sequence[str]) -> tuple[str, str]:
    """The code, and which of the secrets (tried in their order) opened it."""
    for secret in secrets:
        try:
            return decrypt(token, secret=secret), secret
        except CodeDecryptionError:
            continue
    raise CodeDecryptionError("voucher code cannot be decrypted with any listed VOUCHER_KEY")
