"""Voucher emails and PDFs, expiry and reminders (worker jobs)."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta

import segno
from pypdf import PdfReader
from sqlalchemy import select

from shop.db import as_utc, utcnow
from shop.notifications import sealing
from shop.notifications.models import OutboxEmail
from shop.vouchers import codes, delivery, jobs, services
from shop.vouchers.models import Voucher
from tests.fixtures.auth import make_user
from tests.vouchers.conftest import assert_ledger_matches, issue_money, issue_treatment


def outbox(session, to: str) -> list[OutboxEmail]:
    return list(session.scalars(select(OutboxEmail).where(OutboxEmail.to == to)
                                .order_by(OutboxEmail.id)))


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def qr_matrix_from_pdf(data: bytes) -> list[list[bool]]:
    """Read the QR image back out of the PDF and sample one pixel per module."""
    image = PdfReader(io.BytesIO(data)).pages[0].images[0].image.convert("L")
    scale, border = 8, 2
    modules = image.width // scale - 2 * border
    def dark(x: int, y: int) -> bool:
        centre = scale // 2
        return image.getpixel(((border + x) * scale + centre, (border + y) * scale + centre)) < 128

    return [[dark(x, y) for x in range(modules)] for y in range(modules)]


def test_pdf_carries_the_code_as_text_and_as_a_qr_code(db_session):
    issued = issue_treatment(db_session, "hydra-facial", recipient_name="Zoë Ångström",
                             message="Happy birthday! Treat yourself.")
    data = delivery.render_pdf(issued.voucher, issued.code)
    assert data.startswith(b"%PDF")
    text = pdf_text(data)
    assert codes.display(issued.code) in text
    assert "Hydra Facial" in text and "Happy birthday" in text and "Zoë Ångström" in text
    expected = segno.make(codes.display(issued.code), error="m").matrix
    assert qr_matrix_from_pdf(data) == [[bool(cell) for cell in row] for row in expected]


def test_pdf_survives_text_outside_latin1(db_session):
    issued = issue_money(db_session, 5000, recipient_name="小明", message="🎁 for you")
    text = pdf_text(delivery.render_pdf(issued.voucher, issued.code))
    assert codes.display(issued.code) in text and "£50.00" in text


def test_delivery_is_queued_once_with_the_pdf(db_session):
    issued = issue_money(db_session, 5000, recipient_name="Ada",
                         recipient_email="ada@example.com", purchaser_email="bob@example.com",
                         message="Enjoy")
    assert delivery.queue_delivery(session=db_session, voucher=issued.voucher)
    delivery.queue_delivery(session=db_session, voucher=issued.voucher)
    [email] = outbox(db_session, "ada@example.com")
    assert email.sealed  # stored encrypted; opened here as the worker opens it
    content = sealing.content_of(email)
    assert codes.display(issued.code) in content.text and "Enjoy" in content.text
    assert "£50.00" in email.subject
    [(filename, content_type, data)] = content.attachments
    assert content_type == "application/pdf"
    assert filename.endswith(f"{issued.code[-4:]}.pdf")
    assert codes.display(issued.code) in pdf_text(data)
    assert as_utc(email.next_attempt_at) <= utcnow()


def test_delivery_waits_for_the_chosen_day(db_session):
    send_on = date.today() + timedelta(days=10)
    issued = issue_money(db_session, 2500, recipient_email="later@example.com", send_on=send_on)
    delivery.queue_delivery(session=db_session, voucher=issued.voucher)
    [email] = outbox(db_session, "later@example.com")
    morning = as_utc(email.next_attempt_at).astimezone(delivery.CLINIC_TIME)
    assert (morning.date(), morning.hour) == (send_on, delivery.DELIVERY_HOUR)


def test_send_after_is_now_for_today_or_the_past():
    now = datetime(2026, 6, 1, 12, tzinfo=UTC)
    assert delivery.send_after(None, now) is None
    assert delivery.send_after(date(2026, 6, 1), now) is None
    assert delivery.send_after(date(2026, 5, 1), now) is None
    assert delivery.send_after(date(2026, 6, 2), now) == datetime(2026, 6, 2, 7, tzinfo=UTC)


def test_without_a_recipient_the_buyer_gets_it(db_session):
    issued = issue_money(db_session, 2500, purchaser_email="buyer@example.com")
    delivery.queue_delivery(session=db_session, voucher=issued.voucher)
    assert len(outbox(db_session, "buyer@example.com")) == 1


def test_resend_queues_a_new_email(db_session):
    issued = issue_money(db_session, 2500, recipient_email="again@example.com")
    delivery.queue_delivery(session=db_session, voucher=issued.voucher)
    now = utcnow()
    delivery.queue_resend(session=db_session, voucher=issued.voucher, now=now)
    delivery.queue_resend(session=db_session, voucher=issued.voucher, now=now)  # double click
    later = now + timedelta(minutes=2)
    delivery.queue_resend(session=db_session, voucher=issued.voucher, now=later)
    emails = outbox(db_session, "again@example.com")
    assert len(emails) == 3
    assert all(email.sealed and issued.code not in email.text for email in emails)
    assert all(codes.display(issued.code) in sealing.content_of(email).text for email in emails)


def test_expiry_job(db_session):
    now = utcnow()
    old = issue_money(db_session, 5000, now=now - timedelta(days=370)).voucher
    fresh = issue_money(db_session, 5000, now=now).voucher
    assert jobs.expire_vouchers(session=db_session, now=now) >= 1
    assert jobs.expire_vouchers(session=db_session, now=now) == 0
    old = assert_ledger_matches(db_session, old.id)
    assert old.status == "expired" and old.balance_amount == 5000
    assert old.transactions[-1].kind == "expiry"
    assert db_session.get(Voucher, fresh.id).status == "active"


def test_reminders_at_30_and_7_days_once_each(db_session):
    start = utcnow()
    issued = issue_money(db_session, 5000, recipient_email="remind@example.com",
                         now=start - timedelta(days=300))
    expires = as_utc(issued.voucher.expires_at)

    def run(days_before: float) -> list[OutboxEmail]:
        jobs.send_expiry_reminders(session=db_session, now=expires - timedelta(days=days_before))
        return outbox(db_session, "remind@example.com")

    assert run(40) == []
    assert len(run(29.5)) == 1
    assert len(run(20)) == 1
    sent = run(6.5)
    assert len(sent) == 2
    assert "ending " + issued.code[-4:] in sent[1].text and issued.code not in sent[1].text
    assert not sent[1].sealed  # a reminder carries no code, so nothing to seal
    assert len(run(1)) == 2
    staff = make_user(db_session, role="staff")
    services.extend(session=db_session, voucher=db_session.get(Voucher, issued.voucher.id),
                    staff=staff, months=1, now=expires - timedelta(days=1))
    new_expiry = as_utc(db_session.get(Voucher, issued.voucher.id).expires_at)
    jobs.send_expiry_reminders(session=db_session, now=new_expiry - timedelta(days=25))
    assert len(outbox(db_session, "remind@example.com")) == 3


def test_a_voucher_close_to_expiry_gets_only_the_7_day_reminder(db_session):
    issued = issue_money(db_session, 5000, recipient_email="late@example.com",
                         now=utcnow() - timedelta(days=362))
    jobs.send_expiry_reminders(session=db_session, now=utcnow())
    [email] = outbox(db_session, "late@example.com")
    assert "expires in" in email.subject
    assert db_session.get(Voucher, issued.voucher.id).reminder_sent_days == 7


def test_no_reminder_for_spent_or_void_vouchers(db_session):
    staff = make_user(db_session, role="staff")
    issued = issue_money(db_session, 5000, recipient_email="gone@example.com",
                         now=utcnow() - timedelta(days=350))
    services.void(session=db_session, voucher=issued.voucher, reason="test", staff=staff)
    jobs.send_expiry_reminders(session=db_session, now=utcnow())
    assert outbox(db_session, "gone@example.com") == []


def test_the_worker_runs_the_voucher_jobs():
    from shop.worker import load_jobs

    jobs_by_name = load_jobs()
    assert jobs_by_name["vouchers.expire"].fn is jobs.expire_vouchers
    assert jobs_by_name["vouchers.expiry_reminders"].fn is jobs.send_expiry_reminders
