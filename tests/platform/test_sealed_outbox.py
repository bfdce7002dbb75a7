"""Sealed outbox email: stored encrypted, opened only to build the message, its content
removed once sent, kept (still sealed) when it fails so staff can retry."""

from __future__ import annotations

import base64

import pytest

from shop import crypto
from shop.extensions import db
from shop.notifications import sealing
from shop.notifications import services as notifications
from shop.notifications.models import OutboxEmail
from tests.platform.test_outbox import (  # noqa: F401  (the `outbox` fixture)
    load,
    outbox,
    queue,
    queue_committed,
    send_outbox,
)

SECRET_TEXT = "Your code: ABCD-2345-EFGH-6789"
SECRET_HTML = "<p>Your code: <b>ABCD-2345-EFGH-6789</b></p>"
SECRET_PDF = b"%PDF-1.4 ABCD-2345-EFGH-6789"


def queue_sealed(session, **fields) -> OutboxEmail:
    return queue(session, subject="Your voucher", text=SECRET_TEXT, html=SECRET_HTML,
                 attachments=[
                     notifications.Attachment("voucher.pdf", "application/pdf", SECRET_PDF),
                     notifications.Attachment("note.txt", "text/plain", b"ABCD-2345-EFGH-6789"),
                 ], sealed=True, **fields)


def test_a_sealed_email_is_stored_encrypted(db_session):
    email = queue_sealed(db_session)
    db_session.expire_all()
    email = db_session.get(OutboxEmail, email.id)

    assert email.sealed and email.subject == "Your voucher"
    for stored in (email.text, email.html):
        assert "ABCD" not in stored and len(base64.b64decode(stored, validate=True)) > 12
    assert [(a.filename, a.content_type) for a in email.attachments] == [
        ("voucher.pdf", "application/pdf"), ("note.txt", "text/plain")]
    assert all(b"ABCD" not in a.data for a in email.attachments)
    assert sealing.content_of(email) == sealing.Content(SECRET_TEXT, SECRET_HTML, (
        ("voucher.pdf", "application/pdf", SECRET_PDF),
        ("note.txt", "text/plain", b"ABCD-2345-EFGH-6789")))


def test_an_unsealed_email_is_stored_as_written(db_session):
    email = queue(db_session, text=SECRET_TEXT)
    assert not email.sealed and email.text == SECRET_TEXT


def test_sealed_content_belongs_to_its_own_email(db_session):
    first, second = queue_sealed(db_session), queue_sealed(db_session, to="bob@example.com")
    second.text = first.text
    with pytest.raises(sealing.SealedContentError):
        sealing.content_of(second)
    second.text = sealing.seal(sealing.Content("x", None), message_id=second.message_id,
                               key=sealing.outbox_key()).text
    assert sealing.content_of(second).text == "x"
    second.attachments[0].data = second.attachments[1].data  # swapped within one email
    with pytest.raises(sealing.SealedContentError):
        sealing.content_of(second)


def test_a_sealed_email_is_sent_in_clear_then_its_content_removed(outbox, smtp_server):
    with outbox.app_context():
        email_id = queue_sealed(db.session, dedupe_key="sealed:1").id
        db.session.commit()

    assert send_outbox(outbox) == 1

    [message] = smtp_server.wait_for(1)
    assert message.get_body(("plain",)).get_content().strip() == SECRET_TEXT
    assert message.get_body(("html",)).get_content().strip() == SECRET_HTML
    attachments = {part.get_filename(): part.get_content() for part in message.iter_attachments()}
    assert attachments == {"voucher.pdf": SECRET_PDF, "note.txt": "ABCD-2345-EFGH-6789"}
    with outbox.app_context():
        email = db.session.get(OutboxEmail, email_id)
        assert (email.status, email.attempts, email.sealed) == ("sent", 0, True)
        assert (email.text, email.html, email.attachments) == (sealing.REMOVED, None, [])
        assert (email.to, email.subject, email.dedupe_key) == (
            "jane@example.com", "Your voucher", "sealed:1")
        assert email.message_id == message["Message-ID"] and email.sent_at is not None


def test_an_unsealed_sent_email_keeps_its_content(outbox, smtp_server):
    email_id = queue_committed(outbox, text=SECRET_TEXT,
                               attachments=[notifications.Attachment("a.txt", "text/plain", b"a")])
    assert send_outbox(outbox) == 1
    smtp_server.wait_for(1)
    with outbox.app_context():
        email = db.session.get(OutboxEmail, email_id)
        assert (email.status, email.text, len(email.attachments)) == ("sent", SECRET_TEXT, 1)


def test_a_failed_sealed_email_keeps_its_sealed_content_for_a_retry(outbox, smtp_server):
    smtp_server.refuse("nobody@example.com")
    with outbox.app_context():
        email_id = queue_sealed(db.session, to="nobody@example.com").id
        db.session.commit()

    assert send_outbox(outbox) == 1
    with outbox.app_context():
        email = db.session.get(OutboxEmail, email_id)
        assert (email.status, email.attempts) == ("failed", 1)
        assert SECRET_TEXT not in email.text and len(email.attachments) == 2
        assert sealing.content_of(email).text == SECRET_TEXT
        # Staff fix the address and retry: the sealed content is still there to send.
        email.to, email.status = "jane@example.com", "pending"
        db.session.commit()

    assert send_outbox(outbox) == 1
    [message] = smtp_server.wait_for(1)
    assert message.get_body(("plain",)).get_content().strip() == SECRET_TEXT
    assert load(outbox, email_id).text == sealing.REMOVED


def test_a_changed_voucher_key_fails_the_email_and_sends_nothing(outbox, smtp_server,
                                                                monkeypatch):
    with outbox.app_context():
        email_id = queue_sealed(db.session).id
        db.session.commit()
    original_key = outbox.config["VOUCHER_KEY"]
    monkeypatch.setitem(outbox.config, "VOUCHER_KEY", "a-different-voucher-key-of-some-length")

    assert send_outbox(outbox) == 1
    email = load(outbox, email_id)
    assert (email.status, email.attempts) == ("failed", 1)
    assert "SealedContentError" in email.last_error and "ABCD" not in email.last_error
    assert smtp_server.messages == []

    monkeypatch.setitem(outbox.config, "VOUCHER_KEY", original_key)
    with outbox.app_context():
        db.session.get(OutboxEmail, email_id).status = "pending"
        db.session.commit()
    assert send_outbox(outbox) == 1
    smtp_server.wait_for(1)
    assert load(outbox, email_id).status == "sent"


def test_each_purpose_gets_its_own_key_and_sealed_bytes_resist_tampering():
    secret = "a-long-test-secret-of-some-length"
    outbox_key = sealing.outbox_key(secret)
    assert outbox_key == crypto.derive_key(secret, salt=b"shop-outbox", info=b"shop-outbox-v1")
    assert outbox_key != crypto.derive_key(secret, salt=b"shop-outbox", info=b"other-v1")
    assert outbox_key != sealing.outbox_key(secret + "x")
    sealed = crypto.seal(outbox_key, b"hello", aad=b"here")
    assert sealed != crypto.seal(outbox_key, b"hello", aad=b"here")  # a fresh nonce each time
    assert crypto.unseal(outbox_key, sealed, aad=b"here") == b"hello"
    flipped = sealed[:-1] + bytes([sealed[-1] ^ 1])
    for key, data, aad in ((outbox_key, flipped, b"here"), (outbox_key, sealed, b"there"),
                           (sealing.outbox_key(secret + "x"), sealed, b"here")):
        with pytest.raises(crypto.UnsealError):
            crypto.unseal(key, data, aad=aad)
