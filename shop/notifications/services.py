"""Queue email in the caller's transaction; the worker sends it over SMTP once that commits."""

from __future__ import annotations

import logging
import re
import secrets
import smtplib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses, parseaddr

from flask import current_app, has_app_context
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from shop.db import insert_now, insert_once, is_postgresql, utcnow
from shop.notifications import sealing
from shop.notifications.models import OutboxAttachment, OutboxEmail
from shop.notifications.smtp import SmtpMailer

log = logging.getLogger(__name__)
FIELD_NAME = re.compile(r"[!-9;-~]+")  # RFC 5322 3.6.8: printable ASCII but the colon
BUILT_FIELDS = {"from", "to", "cc", "bcc", "subject", "date", "message-id", "mime-version"}
MAX_LINE = 998  # RFC 5322 2.1.1, without the CRLF
# Extra fields are written as given (Message.set_raw, which "none" leaves unfolded; the
# message's own fields fold as before): folded by the email package, a long value such as a
# List-Unsubscribe URL becomes RFC 2047 encoded words, which mail providers do not decode.
VERBATIM = policy.default.clone(refold_source="none")


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 10
    backoff_seconds: int = 30
    backoff_max_seconds: int = 3600

    @classmethod
    def from_config(cls, config: Mapping) -> RetryPolicy:
        return cls(
            max_attempts=config["OUTBOX_MAX_ATTEMPTS"],
            backoff_seconds=config["OUTBOX_BACKOFF_SECONDS"],
            backoff_max_seconds=config["OUTBOX_BACKOFF_MAX_SECONDS"],
        )


def backoff_delay(attempts: int, policy: RetryPolicy) -> timedelta:
    """Wait after the `attempts`-th failure: base, 2 x base, 4 x base... capped."""
    exponent = min(max(attempts - 1, 0), 30)
    return timedelta(seconds=min(policy.backoff_seconds * 2**exponent, policy.backoff_max_seconds))


def enqueue_email(
    *,
    session: Session,
    to: str,
    subject: str,
    text: str,
    html: str | None = None,
    attachments: Sequence[Attachment] = (),
    send_after: datetime | None = None,
    dedupe_key: str | None = None,
    sealed: bool = False,
    headers: Mapping[str, str] | None = None,
) -> OutboxEmail:
    """Write an outbox row in the caller's transaction. Nothing is sent here, ever.

    `sealed`: the text, html and attachments are stored encrypted (they carry secrets such
    as voucher codes) and removed once the email is sent. `headers`: extra header fields
    (checked_headers), stored as they are, sealed or not.
    """
    envelope_recipient(to)
    if "\r" in subject or "\n" in subject:
        raise ValueError("an email subject cannot contain line breaks")
    headers = checked_headers(headers) if headers else None
    message_id = _new_message_id()
    content = sealing.Content(
        text, html, tuple((a.filename, a.content_type, a.data) for a in attachments))
    if sealed:
        content = sealing.seal(content, message_id=message_id, key=sealing.outbox_key())
    email = OutboxEmail(
        message_id=message_id, to=to, subject=subject, text=content.text, html=content.html,
        sealed=sealed, headers=headers, dedupe_key=dedupe_key, status="pending", attempts=0,
        next_attempt_at=send_after or utcnow(),
    )
    if dedupe_key is None:
        insert_now(session, email)
    elif not insert_once(session, email, unless_exists=("dedupe_key",)):
        # queued before, by this transaction or by one that has committed (PostgreSQL: a
        # concurrent one this INSERT waited for)
        return _by_dedupe_key(session, dedupe_key)
    stored = [OutboxAttachment(email_id=email.id, filename=filename, content_type=content_type,
                               data=data) for filename, content_type, data in content.attachments]
    if stored:
        insert_now(session, *stored)
    set_committed_value(email, "attachments", stored)
    return email


def envelope_recipient(to: str) -> str:
    """The bare address of `to` ("Jane <jane@example.com>" → "jane@example.com")."""
    if "\r" in to or "\n" in to:
        raise ValueError("an email address cannot contain line breaks")
    addresses = [addr for _name, addr in getaddresses([to]) if addr]
    if len(addresses) != 1 or "@" not in addresses[0]:
        raise ValueError(f"expected exactly one email address, got {to!r}")
    return addresses[0]


def checked_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Extra header fields that can be written as given, else ValueError: a field name, not
    one the message is built with, and a value of printable ASCII on one line. No line
    break, so no field can be slipped in after it (header injection)."""
    for name, value in headers.items():
        if not (FIELD_NAME.fullmatch(name) and name.lower() not in BUILT_FIELDS
                and not name.lower().startswith("content-")):
            raise ValueError(f"{name!r} cannot be an extra email header field")
        if not isinstance(value, str):
            raise ValueError(f"the {name} header must be text")
        policy.default.header_store_parse(name, value)  # ValueError on CR, LF or any break
        if not (value.isascii() and value.isprintable()) or len(name) + 2 + len(value) > MAX_LINE:
            raise ValueError(f"the {name} header must be printable ASCII on one line")
    return dict(headers)


def build_message(email: OutboxEmail, *, sender: str) -> EmailMessage:
    """The MIME message; a sealed email is opened here, in memory only."""
    content = sealing.content_of(email)
    message = EmailMessage(policy=VERBATIM)
    message["From"] = sender
    message["To"] = email.to
    message["Subject"] = email.subject
    message["Date"] = format_datetime(utcnow())
    message["Message-ID"] = email.message_id
    for name, value in checked_headers(email.headers or {}).items():  # checked again: as stored
        message.set_raw(name, value)
    message.set_content(content.text)
    if content.html:
        message.add_alternative(content.html, subtype="html")
    for filename, content_type, data in content.attachments:
        maintype, _, subtype = content_type.partition("/")
        message.add_attachment(
            data, maintype=maintype, subtype=subtype or "octet-stream", filename=filename,
        )
    return message


def claim_next_due(*, session: Session, now: datetime) -> OutboxEmail | None:
    """The oldest due pending email, row-locked so other workers skip it (PostgreSQL)."""
    return session.scalars(
        select(OutboxEmail)
        .where(OutboxEmail.status == "pending", OutboxEmail.next_attempt_at <= now)
        .order_by(OutboxEmail.next_attempt_at, OutboxEmail.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    ).first()


def send_due_emails(
    *,
    session: Session,
    now: datetime,
    mailer: SmtpMailer,
    sender: str,
    policy: RetryPolicy,
    limit: int,
    should_stop: Callable[[], bool] = lambda: False,
) -> int:
    """Send up to `limit` due emails, each in its own transaction. Returns how many were tried."""
    now = now.astimezone(UTC)
    envelope_sender = parseaddr(sender)[1]
    processed = 0
    while processed < limit and not should_stop():
        email = claim_next_due(session=session, now=now)
        if email is None:
            break
        processed += 1
        try:
            message = build_message(email, sender=sender)
            recipients = [envelope_recipient(email.to)]
        except (ValueError, TypeError) as exc:
            # Unsendable as stored (a bad address, or sealed content this VOUCHER_KEY cannot
            # open): no automatic retry helps. A sealed row keeps its content for staff.
            record_failure(email, exc, now=now, policy=policy, permanent=True)
            session.commit()
            continue
        email_id = email.id
        if not is_postgresql(session):
            # SQLite has no row locks (one worker only); end the read transaction so its
            # lock does not stall the app's writers while SMTP talks.
            session.commit()
        error, permanent, connection_lost = _deliver(mailer, message, envelope_sender, recipients)
        email = session.get(OutboxEmail, email_id)
        if error is None:
            email.status, email.sent_at = "sent", utcnow()
            if email.sealed:
                sealing.discard_content(email)
        else:
            record_failure(email, error, now=now, policy=policy, permanent=permanent)
        session.commit()
        if connection_lost:
            break  # the server is unreachable: leave the rest for the next run
    return processed


def record_failure(
    email: OutboxEmail, error: Exception, *, now: datetime, policy: RetryPolicy,
    permanent: bool = False,
) -> None:
    email.attempts += 1
    email.last_error = f"{type(error).__name__}: {error}"[:2000]
    if permanent or email.attempts >= policy.max_attempts:
        email.status = "failed"
        log.error("outbox email %s failed for good after %s attempt(s): %s",
                  email.id, email.attempts, email.last_error)
    else:
        email.next_attempt_at = now + backoff_delay(email.attempts, policy)
        log.warning("outbox email %s not sent (attempt %s), retrying at %s: %s",
                    email.id, email.attempts, email.next_attempt_at.isoformat(), email.last_error)


def _deliver(
    mailer: SmtpMailer, message: EmailMessage, sender: str, recipients: list[str]
) -> tuple[Exception | None, bool, bool]:
    """Send; returns (error, permanent, connection_lost)."""
    try:
        mailer.send(message, sender=sender, recipients=recipients)
    except smtplib.SMTPRecipientsRefused as exc:
        permanent = all(code >= 500 for code, _msg in exc.recipients.values())
        return exc, permanent, False
    except smtplib.SMTPDataError as exc:
        return exc, exc.smtp_code >= 500, False
    except smtplib.SMTPSenderRefused as exc:  # our MAIL_FROM: a setting to fix, then retry
        return exc, False, False
    except OSError as exc:  # refused, timed out, disconnected, TLS or login failure
        return exc, False, True
    return None, False, False


def _by_dedupe_key(session: Session, dedupe_key: str) -> OutboxEmail | None:
    return session.scalars(
        select(OutboxEmail).where(OutboxEmail.dedupe_key == dedupe_key)
    ).one_or_none()


def _new_message_id() -> str:
    mail_from = current_app.config.get("MAIL_FROM", "") if has_app_context() else ""
    domain = parseaddr(mail_from)[1].rpartition("@")[2] or "shop.localhost"
    return f"<outbox.{secrets.token_hex(16)}@{domain}>"
