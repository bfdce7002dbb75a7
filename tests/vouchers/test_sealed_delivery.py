"""A copy of the database alone reveals no usable code: voucher emails wait in the outbox
sealed, the recipient still gets the code in the text and in the PDF, and once the email is
sent its content is gone from the database."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from shop.extensions import db
from shop.notifications import sealing
from shop.notifications import services as notifications
from shop.notifications.models import OutboxAttachment, OutboxEmail
from shop.orders import services as orders
from shop.vouchers import codes, delivery, purchases
from shop.vouchers.models import Voucher
from shop.vouchers.services import code_for
from shop.worker import run_job
from tests.vouchers.cleartext import holds_code, places_holding
from tests.vouchers.conftest import issue_money, issue_treatment, place_order

HYDRA = "GLW-GV-HYDRA-FACIAL"
FIFTY = "GLW-GV-50"


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def test_the_scanner_finds_codes_in_text_base64_and_compressed_pdfs(db_session):
    """The check below would catch a leak: an unsealed voucher email is found at once."""
    issued = issue_treatment(db_session, "hydra-facial", recipient_email="plain@example.com")
    pdf = delivery.render_pdf(issued.voucher, issued.code)
    assert codes.display(issued.code).encode() not in pdf  # the text stream is compressed...
    assert holds_code(pdf, issued.code)  # ...but read back with pypdf it is there
    assert holds_code(f"code: {issued.code.lower()}", issued.code)
    assert not holds_code(issued.code[:-1], issued.code)

    email = notifications.enqueue_email(
        session=db_session, to="plain@example.com", subject="Unsealed on purpose",
        text=f"Your code: {codes.display(issued.code)}",
        attachments=[notifications.Attachment("v.pdf", "application/pdf", pdf)],
    )
    db_session.flush()
    places = places_holding(db_session, issued.code)
    assert f"outbox_emails.text (row {email.id})" in places
    assert f"outbox_attachments.data (row {email.attachments[0].id})" in places


def test_after_a_paid_checkout_no_table_holds_a_code_in_clear(db_session):
    order = place_order(db_session, [
        (HYDRA, {"voucher": {"recipient_name": "Ada", "recipient_email": "ada@example.com",
                             "message": "Happy birthday!"}}),
        (FIFTY, {"voucher": {"recipient_name": "Bob", "recipient_email": "bob@example.com"}}),
    ])
    orders.mark_paid(session=db_session, order_id=order.id, amount_received=order.amount_due,
                     reference="pi_sealed")
    bought = purchases.bought_by(session=db_session, order_id=order.id)
    assert len(bought) == 2
    db_session.flush()

    for voucher in bought:
        code = code_for(voucher)
        assert places_holding(db_session, code) == []
        [email] = db_session.scalars(select(OutboxEmail).where(
            OutboxEmail.dedupe_key == f"voucher-delivery:{voucher.id}")).all()
        assert email.sealed and email.status == "pending"
        # It is the email that carries the code: opened with the key, the code is there.
        content = sealing.content_of(email)
        assert codes.display(code) in content.text and codes.display(code) in content.html
        [(_name, content_type, pdf)] = content.attachments
        assert content_type == "application/pdf" and codes.display(code) in pdf_text(pdf)


def test_a_resend_is_sealed_too(db_session):
    issued = issue_money(db_session, 2500, recipient_email="again@example.com")
    delivery.queue_resend(session=db_session, voucher=issued.voucher)
    db_session.flush()
    [email] = db_session.scalars(select(OutboxEmail).where(OutboxEmail.to == "again@example.com"))
    assert email.sealed
    assert places_holding(db_session, issued.code) == []


@pytest.fixture
def mailing(app, committed, smtp_server, monkeypatch):
    monkeypatch.setitem(app.config, "SMTP_URL", smtp_server.url)
    return app


def test_the_recipient_gets_the_code_and_the_sent_row_keeps_no_content(mailing, smtp_server):
    with mailing.app_context():
        issued = issue_money(db.session, 5000, recipient_name="Ada",
                             recipient_email="Ada <ada@example.com>", message="Enjoy")
        delivery.queue_delivery(session=db.session, voucher=issued.voucher)
        voucher_id, code = issued.voucher.id, issued.code
        db.session.commit()
        assert places_holding(db.session, code) == []
        db.session.remove()

    assert run_job(mailing, "send_outbox") == 1

    [message] = smtp_server.wait_for(1)
    assert codes.display(code) in message.get_body(("plain",)).get_content()
    assert codes.display(code) in message.get_body(("html",)).get_content()
    [attachment] = list(message.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    assert codes.display(code) in pdf_text(attachment.get_content())

    with mailing.app_context():
        email = db.session.scalars(select(OutboxEmail).where(
            OutboxEmail.dedupe_key == f"voucher-delivery:{voucher_id}")).one()
        assert (email.status, email.sealed) == ("sent", True)
        assert (email.text, email.html) == (sealing.REMOVED, None)
        assert email.attachments == []
        assert db.session.scalars(
            select(OutboxAttachment).where(OutboxAttachment.email_id == email.id)).all() == []
        # The record stays: who, what, when and which message.
        assert email.to == "Ada <ada@example.com>" and "£50.00" in email.subject
        assert email.message_id == message["Message-ID"] and email.sent_at is not None
        assert places_holding(db.session, code) == []
        assert db.session.get(Voucher, voucher_id).status == "active"
