"""Keys derived from one secret setting (HKDF-SHA256), and AES-256-GCM sealing with them.

Each use derives its own key from the setting with its own `info` label, so a key leaked or
misused in one place opens nothing elsewhere. A sealed value is nonce || ciphertext || tag.
"""

from __future__ import annotations

import secrets
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

NONCE_BYTES = 12


class UnsealError(ValueError):
    """Wrong key, wrong associated data, or the sealed bytes were altered."""


@lru_cache(maxsize=64)
def derive_key(secret: str, *, salt: bytes, info: bytes) -> bytes:
    """A 256-bit key for one purpose (`info`) from a long secret string."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(secret.encode())


def seal(key: bytes, data: bytes, *, aad: bytes) -> bytes:
    """AES-256-GCM with a fresh random nonce; `aad` binds the result to where it is stored."""
    nonce = secrets.token_bytes(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, data, aad)


def unseal(key: bytes, sealed: bytes, *, aad: bytes) -> bytes:
    try:
        return AESGCM(key).decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], aad)
    except (InvalidTag, ValueError) as exc:
        raise UnsealError("sealed data cannot be opened with this key") from exc


def key_id(secret: str) -> str:
    """A short name for a secret that reveals nothing of it: it says which secret made a value
    that cannot be opened to find out (a keyed hash)."""
    return derive_key(secret, salt=b"shop-key-id", info=b"key id v1")[:8].hex()
