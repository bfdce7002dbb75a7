"""The outbox: email is queued with the data it announces, sent by the worker only after that
commits, retried with backoff while SMTP is down, and never lost."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from shop.db import as_utc, utcnow
from shop.extensions import db
from shop.notifications import services as notifications
from shop.notifications.models import OutboxEmail
from shop.notifications.services import RetryPolicy, backoff_delay
from shop.notifications.smtp import SmtpSettings
from shop.worker import run_job
from tests.fixtures.smtp import SmtpServer


def clear_outbox(app) -> None:
    with app.app_context():
        db.session.execute(delete(OutboxEmail))
        db.session.commit()


@pytest.fixture
def outbox(app, smtp_server, monkeypatch):
    """The app pointed at the test SMTP server, with an empty outbox before and after.

    The worker commits for real; these tests write nothing but outbox rows, so emptying the
    outbox is all the cleaning they need (cheaper than the `committed` fixture's full reset).
    """
    monkeypatch.setitem(app.config, "SMTP_URL", smtp_server.url)
    clear_outbox(app)
    yield app
    clear_outbox(app)


def send_outbox(app, now=None) -> int:
    return run_job(app, "send_outbox", now)


def queue(session, to="jane@example.com", **fields) -> OutboxEmail:
    fields.setdefault("subject", "Your order")
    fields.setdefault("text", "Thank you.")
    email = notifications.enqueue_email(session=session, to=to, **fields)
    session.flush()
    return email


def queue_committed(app, to="jane@example.com", **fields) -> int:
    with app.app_context():
        email_id = queue(db.session, to=to, **fields).id
        db.session.commit()
    return email_id


def load(app, email_id: int) -> OutboxEmail:
    with app.app_context():
        return db.session.get(OutboxEmail, email_id)


def test_enqueue_only_writes_a_pending_row(db_session, smtp_server):
    email = queue(db_session, dedupe_key="order-confirmation:1")

    assert (email.status, email.attempts, email.sent_at) == ("pending", 0, None)
    assert email.message_id.startswith("<outbox.") and email.message_id.endswith(">")
    assert smtp_server.messages == []


def test_same_dedupe_key_returns_the_existing_row(db_session):
    first = queue(db_session, dedupe_key="welcome:42", subject="Welcome")
    second = queue(db_session, dedupe_key="welcome:42", subject="Welcome again")

    assert second.id == first.id and second.subject == "Welcome"
    count = db_session.scalar(
        select(func.count()).select_from(OutboxEmail).where(OutboxEmail.dedupe_key == "welcome:42")
    )
    assert count == 1


@pytest.mark.parametrize("to", ["not-an-address", "a@example.com, b@example.com",
                                "a@example.com\r\nBcc: evil@example.com"])
def test_bad_recipients_are_refused_when_queued(db_session, to):
    with pytest.raises(ValueError):
        notifications.enqueue_email(session=db_session, to=to, subject="Hi", text="x")


def test_worker_sends_text_html_and_attachments(outbox, smtp_server):
    email_id = queue_committed(
        outbox, to="Jane Doe <jane@example.com>", subject="Your voucher",
        text="Plain words", html="<p>Rich words</p>",
        attachments=[
            notifications.Attachment("voucher.pdf", "application/pdf", b"%PDF-1.4 fake"),
            notifications.Attachment("lines.csv", "text/csv", b"sku,qty\nA,1\n"),
        ],
    )

    assert send_outbox(outbox) == 1

    [message] = smtp_server.wait_for(1)
    email = load(outbox, email_id)
    assert message["Message-ID"] == email.message_id
    assert message["From"] == outbox.config["MAIL_FROM"]
    assert message["To"] == "Jane Doe <jane@example.com>"
    assert message["Subject"] == "Your voucher"
    assert message.get_body(("plain",)).get_content().strip() == "Plain words"
    assert message.get_body(("html",)).get_content().strip() == "<p>Rich words</p>"
    attachments = {part.get_filename(): part for part in message.iter_attachments()}
    assert attachments["voucher.pdf"].get_content_type() == "application/pdf"
    assert attachments["voucher.pdf"].get_content() == b"%PDF-1.4 fake"
    assert attachments["lines.csv"].get_payload(decode=True) == b"sku,qty\nA,1\n"
    assert smtp_server.envelopes == [("shop@aestheticsglow.example", ["jane@example.com"])]
    assert email.status == "sent" and email.sent_at is not None


@pytest.mark.postgresql_only  # on SQLite every transaction takes the write lock at BEGIN, so
# the worker cannot even read while the writer is open: the question does not arise there.
def test_email_is_not_sent_before_its_transaction_commits(outbox, smtp_server):
    with outbox.app_context():
        writer = Session(db.engine)
        try:
            queue(writer, subject="Order GLW-1 confirmed")
            assert send_outbox(outbox) == 0  # queued, but not committed yet
            writer.commit()
        finally:
            writer.close()
    assert send_outbox(outbox) == 1
    assert [m["Subject"] for m in smtp_server.wait_for(1)] == ["Order GLW-1 confirmed"]


def test_smtp_outage_is_retried_later_and_nothing_is_lost(outbox, smtp_server):
    email_id = queue_committed(outbox)
    smtp_server.stop()
    now = utcnow()

    assert send_outbox(outbox, now) == 1
    email = load(outbox, email_id)
    assert (email.status, email.attempts) == ("pending", 1)
    assert "Connection refused" in email.last_error
    assert as_utc(email.next_attempt_at) == now + timedelta(seconds=30)

    assert send_outbox(outbox, now + timedelta(seconds=10)) == 0  # backing off
    smtp_server.start()
    assert send_outbox(outbox, now + timedelta(seconds=31)) == 1

    [message] = smtp_server.wait_for(1)
    email = load(outbox, email_id)
    assert message["Message-ID"] == email.message_id
    assert (email.status, email.attempts) == ("sent", 1)


def test_unreachable_server_ends_the_batch_without_touching_the_rest(outbox, smtp_server):
    ids = [queue_committed(outbox, to=f"c{i}@example.com") for i in range(3)]
    smtp_server.stop()

    assert send_outbox(outbox) == 1
    emails = [load(outbox, email_id) for email_id in ids]
    assert [e.attempts for e in emails] == [1, 0, 0]
    assert {e.status for e in emails} == {"pending"}


def test_gives_up_after_max_attempts_and_keeps_the_row(outbox, smtp_server, monkeypatch):
    monkeypatch.setitem(outbox.config, "OUTBOX_MAX_ATTEMPTS", 3)
    email_id = queue_committed(outbox)
    smtp_server.stop()
    now = utcnow()
    for hour in range(3):
        assert send_outbox(outbox, now + timedelta(hours=hour)) == 1

    smtp_server.start()
    assert send_outbox(outbox, now + timedelta(days=1)) == 0
    email = load(outbox, email_id)
    assert (email.status, email.attempts) == ("failed", 3)
    assert email.last_error and smtp_server.messages == []


def test_refused_recipient_fails_at_once_and_others_still_go(outbox, smtp_server):
    smtp_server.refuse("nobody@example.com")
    bounced_id = queue_committed(outbox, to="nobody@example.com")
    delivered_id = queue_committed(outbox, to="jane@example.com")

    assert send_outbox(outbox) == 2

    bounced, delivered = load(outbox, bounced_id), load(outbox, delivered_id)
    assert (bounced.status, bounced.attempts) == ("failed", 1)
    assert "550" in bounced.last_error
    assert delivered.status == "sent"
    assert [m["To"] for m in smtp_server.wait_for(1)] == ["jane@example.com"]


LONG_URL = "<https://api.clinic.example/api/v1/auth/unsubscribe/one-click?token=" + "a" * 120 + ">"


def test_extra_headers_are_sent_as_given(outbox, smtp_server):
    """Unfolded and not RFC 2047-encoded, as the email package would write a value this long:
    mail providers read a List-Unsubscribe URL as it is."""
    headers = {"List-Unsubscribe": LONG_URL,
               "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
    email_id = queue_committed(outbox, headers=headers)
    assert load(outbox, email_id).headers == headers

    assert send_outbox(outbox) == 1
    [message] = smtp_server.wait_for(1)
    raw = dict(message.raw_items())
    assert {name: raw[name] for name in headers} == headers
    assert message["Subject"] == "Your order"


@pytest.mark.parametrize("headers", [
    {"List-Unsubscribe": "<https://a.example/u>\r\nBcc: victim@example.com"},
    {"List-Unsubscribe": "<https://a.example/u>\nBcc: victim@example.com"},
    {"List-Unsubscribe": "<https://a.example/u>\rX-Evil: 1"},
    {"X-Evil: 1\r\nList-Unsubscribe": "<https://a.example/u>"},
    {"X Evil": "1"}, {"Bcc": "victim@example.com"}, {"to": "victim@example.com"},
    {"Content-Type": "text/html"}, {"X-Note": "caf\u00e9"}, {"X-Note": "a\u2028b"},
    {"X-Note": "a" * 991},  # beyond the 998 characters a line may hold
])
def test_header_injection_and_unwritable_headers_are_refused_when_queued(db_session, headers):
    with pytest.raises(ValueError):
        queue(db_session, headers=headers)


def test_a_header_altered_in_the_database_fails_the_email_for_good(outbox, smtp_server):
    email_id = queue_committed(outbox, headers={"X-Campaign": "spring"})
    with outbox.app_context():
        db.session.execute(update(OutboxEmail).where(OutboxEmail.id == email_id).values(
            headers={"X-Campaign": "spring\r\nBcc: victim@example.com"}))
        db.session.commit()

    assert send_outbox(outbox) == 1
    email = load(outbox, email_id)
    assert (email.status, email.attempts) == ("failed", 1) and "line" in email.last_error
    assert smtp_server.messages == []


def test_send_after_delays_delivery(outbox, smtp_server):
    now = utcnow()
    queue_committed(outbox, send_after=now + timedelta(hours=2))

    assert send_outbox(outbox, now) == 0
    assert send_outbox(outbox, now + timedelta(hours=2)) == 1
    smtp_server.wait_for(1)


def test_without_smtp_url_mail_waits_in_the_outbox(outbox, monkeypatch):
    monkeypatch.setitem(outbox.config, "SMTP_URL", "")
    email_id = queue_committed(outbox)

    assert send_outbox(outbox) == 0
    email = load(outbox, email_id)
    assert (email.status, email.attempts) == ("pending", 0)


def test_credentials_in_the_url_are_used_to_log_in(outbox, monkeypatch):
    server = SmtpServer(auth=("shop user", "p@ss:word/1"))
    server.start()
    try:
        monkeypatch.setitem(outbox.config, "SMTP_URL", server.url)
        queue_committed(outbox)
        assert send_outbox(outbox) == 1
        server.wait_for(1)
        assert server.logins == ["shop user"]
    finally:
        server.stop()


def test_wrong_credentials_are_a_retryable_failure(outbox, monkeypatch):
    server = SmtpServer(auth=("shop", "right"))
    server.start()
    try:
        monkeypatch.setitem(outbox.config, "SMTP_URL", f"smtp://shop:wrong@127.0.0.1:{server.port}")
        email_id = queue_committed(outbox)
        assert send_outbox(outbox) == 1
        email = load(outbox, email_id)
        assert (email.status, email.attempts) == ("pending", 1)
        assert "535" in email.last_error and server.messages == []
    finally:
        server.stop()


@pytest.mark.parametrize(("url", "expected"), [
    ("smtp://mail.example.com", SmtpSettings("mail.example.com", 25)),
    ("smtp://127.0.0.1:2525", SmtpSettings("127.0.0.1", 2525)),
    ("smtp://u%40x:p%3Aw@mx.example.com?starttls=true",
     SmtpSettings("mx.example.com", 587, starttls=True, username="u@x", password="p:w")),
    ("smtps://mx.example.com", SmtpSettings("mx.example.com", 465, use_ssl=True)),
    ("smtps://mx.example.com:1465?timeout=5",
     SmtpSettings("mx.example.com", 1465, use_ssl=True, timeout=5.0)),
])
def test_smtp_url_forms(url, expected):
    assert SmtpSettings.from_url(url) == expected


@pytest.mark.parametrize("url", ["http://mx.example.com", "smtp://", "smtps://h?starttls=true"])
def test_bad_smtp_urls_are_refused(url):
    with pytest.raises(ValueError):
        SmtpSettings.from_url(url)


def test_backoff_doubles_then_caps():
    policy = RetryPolicy(backoff_seconds=30, backoff_max_seconds=3600)
    delays = [backoff_delay(n, policy).total_seconds() for n in range(1, 10)]
    assert delays == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]


def enqueue_behind(app, dedupe_key: str, first_ends: str) -> tuple[int, OutboxEmail]:
    """A first session queues `dedupe_key` and keeps it uncommitted while a second one queues
    the same key (it must wait), then ends with `first_ends` ("commit" or "rollback"). The id
    of the first session's row and what the second session's enqueue returned."""
    results = {}
    with app.app_context():
        first = Session(db.engine)
        first_id = queue(first, dedupe_key=dedupe_key, subject="First").id

        def second_writer():
            with app.app_context(), Session(db.engine, expire_on_commit=False) as second:
                results["row"] = queue(second, dedupe_key=dedupe_key, subject="Second")
                second.commit()

        thread = threading.Thread(target=second_writer)
        thread.start()
        thread.join(0.5)
        assert thread.is_alive()  # blocked on the first transaction's uncommitted key
        getattr(first, first_ends)()
        thread.join(10)
        first.close()
    return first_id, results["row"]


def subjects_queued_as(app, dedupe_key: str) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(
            select(OutboxEmail.subject).where(OutboxEmail.dedupe_key == dedupe_key)))


@pytest.mark.postgresql_only
def test_concurrent_enqueues_with_one_dedupe_key_make_one_row(app, outbox):
    """The second transaction waits on the unique index, then returns the committed row."""
    first_id, second = enqueue_behind(app, "race:1", "commit")
    assert second.id == first_id and second.subject == "First"
    assert subjects_queued_as(app, "race:1") == ["First"]


@pytest.mark.postgresql_only
def test_a_dedupe_key_whose_first_writer_rolls_back_is_queued_by_the_one_that_waited(
        app, outbox):
    """ON CONFLICT waits for the uncommitted row: a rollback lets the waiting insert go on."""
    _, second = enqueue_behind(app, "race:2", "rollback")
    assert second.subject == "Second"
    assert subjects_queued_as(app, "race:2") == ["Second"]
