"""Sealed outbox email: content that must not sit readable in the database (voucher codes).

A sealed email's text, html and attachment bytes are stored AES-GCM encrypted under a key
derived from VOUCHER_KEY with its own HKDF label, each bound to the email's Message-ID and its
place in the email, so a copy of the database alone shows none of it and a ciphertext cannot
be moved to another row. The worker opens them just before building the message; once the
email is sent the content is removed for good. A failed sealed email keeps its sealed content,
so it can be retried.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from flask import current_app

from shop import crypto, keyring
from shop.notifications.models import OutboxEmail

SALT = b"shop-outbox"
INFO = b"shop-outbox-v1"
REMOVED = "[sealed content removed after delivery]"


class SealedContentError(ValueError):
    """A sealed email cannot be opened: VOUCHER_KEY changed, or its row was altered."""


@dataclass(frozen=True)
class Content:
    """What an email says: as stored (sealed or not), or opened for sending."""

    text: str
    html: str | None
    attachments: tuple[tuple[str, str, bytes], ...] = ()  # (filename, content_type, data)


def outbox_key(secret: str | None = None) -> bytes:
    """The outbox's key, from VOUCHER_KEY unless another secret is given."""
    secret = current_app.config["VOUCHER_KEY"] if secret is None else secret
    return crypto.derive_key(secret, salt=SALT, info=INFO)


def seal(content: Content, *, message_id: str, key: bytes) -> Content:
    """Encrypt every part: text and html as base64 text, attachment bytes as raw bytes."""
    return Content(
        text=_seal_text(content.text, key, _aad(message_id, "text")),
        html=None if content.html is None else _seal_text(
            content.html, key, _aad(message_id, "html")),
        attachments=tuple(
            (filename, content_type,
             crypto.seal(key, data, aad=_aad(message_id, "attachment", content_type, filename)))
            for filename, content_type, data in content.attachments
        ),
    )


def outbox_keys() -> tuple[bytes, ...]:
    """The outbox keys of VOUCHER_KEY and of each fallback, in the order they are tried."""
    return tuple(outbox_key(secret) for secret in keyring.voucher_secrets())


def content_of(email: OutboxEmail, *, key: bytes | None = None) -> Content:
    """The email's content ready to send: opened if sealed (nothing is written back)."""
    return opened(email, keys=outbox_keys() if key is None else (key,))[0]


def opened(email: OutboxEmail, *, keys: tuple[bytes, ...]) -> tuple[Content, bytes | None]:
    """The email's content, and which of the keys (tried in order) opened it (None: unsealed)."""
    attachments = tuple((a.filename, a.content_type, a.data) for a in email.attachments)
    if not email.sealed:
        return Content(email.text, email.html, attachments), None
    for key in keys:
        try:
            return _open(email, attachments, key), key
        except ValueError:  # UnsealError, or base64 that is not base64
            continue
    raise SealedContentError(
        "sealed email cannot be opened: VOUCHER_KEY changed or the row was altered")


def reseal(email: OutboxEmail, content: Content, *, key: bytes) -> None:
    """Store the content sealed under `key` instead (the same Message-ID, so the same bindings)."""
    sealed = seal(content, message_id=email.message_id, key=key)
    email.text, email.html = sealed.text, sealed.html
    for attachment, (_, _, data) in zip(email.attachments, sealed.attachments, strict=True):
        attachment.data = data


def _open(email: OutboxEmail, attachments: tuple[tuple[str, str, bytes], ...],
          key: bytes) -> Content:
    message_id = email.message_id
    return Content(
        text=_open_text(email.text, key, _aad(message_id, "text")),
        html=None if email.html is None else _open_text(
            email.html, key, _aad(message_id, "html")),
        attachments=tuple(
            (filename, content_type, crypto.unseal(
                key, data, aad=_aad(message_id, "attachment", content_type, filename)))
            for filename, content_type, data in attachments
        ),
    )


def discard_content(email: OutboxEmail) -> None:
    """After delivery: keep who, which subject, when and the Message-ID; drop the content."""
    email.text = REMOVED
    email.html = None
    email.attachments.clear()


def _aad(message_id: str, *place: str) -> bytes:
    return "|".join((INFO.decode(), message_id, *place)).encode()


def _seal_text(text: str, key: bytes, aad: bytes) -> str:
    return base64.b64encode(crypto.seal(key, text.encode(), aad=aad)).decode("ascii")


def _open_text(token: str, key: bytes, aad: bytes) -> str:
    return crypto.unseal(key, base64.b64decode(token, validate=True), aad=aad).decode()
