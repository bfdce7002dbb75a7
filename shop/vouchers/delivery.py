"""Voucher emails: delivery with a printable PDF (code as text and as a QR code), resends,
and expiry reminders. Everything goes through the outbox, so nothing is sent before the
transaction that issued the voucher commits, and the worker retries when SMTP is down.
Emails carrying a code are sealed: encrypted while they wait, their content removed once sent.
"""

from __future__ import annotations

import html
import io
import secrets
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import segno
from fpdf import FPDF
from sqlalchemy.orm import Session

from shop.db import as_utc, utcnow
from shop.errors import NotFound
from shop.money import Money
from shop.notifications import services as notifications
from shop.vouchers import codes
from shop.vouchers.models import Voucher
from shop.vouchers.services import code_for

CLINIC = "GLOW Clinic"
CLINIC_TIME = ZoneInfo("Europe/London")
DELIVERY_HOUR = 8  # a voucher "sent on" a date arrives that morning, clinic time
MAX_SEND_AHEAD = timedelta(days=366)
CURRENCY_SYMBOLS = {"GBP": "£", "EUR": "€", "USD": "$"}


def format_money(money: Money) -> str:
    symbol = CURRENCY_SYMBOLS.get(money.currency)
    units = f"{money.amount // 100:,}.{money.amount % 100:02d}"
    return f"{symbol}{units}" if symbol else f"{units} {money.currency}"


def describe(voucher: Voucher) -> str:
    """"1 × Hydra Facial" or "£50.00"."""
    if voucher.kind == "treatment":
        return f"1 × {voucher.treatment.name}"
    return format_money(voucher.initial_value)


def send_on_allowed(send_on: date | None, now: datetime) -> bool:
    """A delivery day from today (clinic time) to a year ahead, or none."""
    today = now.astimezone(CLINIC_TIME).date()
    return send_on is None or today <= send_on <= today + MAX_SEND_AHEAD


def send_after(send_on: date | None, now: datetime) -> datetime | None:
    """When to deliver: the morning of `send_on` (clinic time), or now for today or no date."""
    if send_on is None:
        return None
    moment = datetime.combine(send_on, time(DELIVERY_HOUR), tzinfo=CLINIC_TIME)
    return moment if moment > now else None


def _latin1(text: str) -> str:
    """The PDF's core fonts cover Latin-1; anything else prints as '?' instead of failing."""
    return text.encode("latin-1", "replace").decode("latin-1")


def _qr_png(code: str) -> io.BytesIO:
    buffer = io.BytesIO()
    segno.make(code, error="m").save(buffer, kind="png", scale=8, border=2)
    buffer.seek(0)
    return buffer


def render_pdf(voucher: Voucher, code: str) -> bytes:
    """A printable A5 voucher: what it is for, who it is for, the code, its QR and expiry."""
    shown = codes.display(code)
    pdf = FPDF(orientation="landscape", unit="mm", format=(148, 210))  # A5
    pdf.set_title(f"{CLINIC} gift voucher")
    pdf.set_auto_page_break(auto=False)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 24)
    pdf.cell(0, 14, _latin1(f"{CLINIC} Gift Voucher"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 18)
    pdf.cell(0, 12, _latin1(describe(voucher)), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 12)
    if voucher.recipient_name:
        pdf.cell(0, 8, _latin1(f"For {voucher.recipient_name}"), new_x="LMARGIN", new_y="NEXT")
    if voucher.message:  # the full message is in the email; the page keeps room for the code
        message = voucher.message if len(voucher.message) <= 300 else voucher.message[:297] + "..."
        pdf.set_font("Helvetica", "I", 11)
        pdf.multi_cell(120, 5.5, _latin1(message), new_x="LMARGIN", new_y="NEXT")
    pdf.image(_qr_png(shown), x=pdf.w - 70, y=30, w=55, h=55)
    pdf.set_y(100)
    pdf.set_font("Courier", "B", 20)
    pdf.cell(0, 12, shown, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    expires = as_utc(voucher.expires_at).astimezone(CLINIC_TIME)
    pdf.cell(0, 6, f"Valid until {expires:%d %B %Y}.", new_x="LMARGIN", new_y="NEXT")
    pdf.multi_cell(0, 5, _latin1(_how_to_use(voucher)))
    return bytes(pdf.output())


def _how_to_use(voucher: Voucher) -> str:
    if voucher.kind == "treatment":
        return "Book your treatment and show this code at the clinic."
    return ("Spend it online at checkout or at the clinic, in one go or in parts, "
            "until the balance is used up.")


# How the email opens, and whose words the voucher's message is, by where it came from
OPENINGS = {
    "purchase": ("You have been given a {clinic} gift voucher: {value}.", "Their message:"),
    "clinic_gift": ("{clinic} is giving you a gift voucher: {value}.", "Our message:"),
    "store_credit": ("Here is your {clinic} store credit: a gift voucher of {value}, your "
                     "refund as we agreed.", "About it:"),
}


def _email_text(voucher: Voucher, code: str) -> str:
    expires = as_utc(voucher.expires_at).astimezone(CLINIC_TIME)
    opening, message_heading = OPENINGS.get(voucher.source, OPENINGS["purchase"])
    lines = [f"Hello {voucher.recipient_name}," if voucher.recipient_name else "Hello,", "",
             opening.format(clinic=CLINIC, value=describe(voucher))]
    if voucher.message:
        lines += ["", message_heading, voucher.message]
    lines += ["", f"Your voucher code: {codes.display(code)}",
              f"Valid until {expires:%d %B %Y}.", "", _how_to_use(voucher),
              "The attached PDF can be printed or shown on your phone.", "", CLINIC]
    return "\n".join(lines)


def _email_html(text: str) -> str:
    paragraphs = html.escape(text).split("\n\n")
    return "".join(f"<p>{p.replace(chr(10), '<br>')}</p>" for p in paragraphs)


def delivery_address(voucher: Voucher) -> str | None:
    return voucher.recipient_email or voucher.purchaser_email


def _queue_voucher_email(session: Session, voucher: Voucher, *, send_at: datetime | None,
                         dedupe_key: str) -> bool:
    address = delivery_address(voucher)
    if address is None:
        return False
    code = code_for(voucher)
    text = _email_text(voucher, code)
    notifications.enqueue_email(
        session=session, to=address, subject=f"Your {CLINIC} gift voucher: {describe(voucher)}",
        text=text, html=_email_html(text),
        attachments=[notifications.Attachment(
            f"glow-gift-voucher-{voucher.code_last4}.pdf", "application/pdf",
            render_pdf(voucher, code),
        )],
        send_after=send_at, dedupe_key=dedupe_key, sealed=True,  # the full code is in it
    )
    return True


def delivery_key(voucher: Voucher) -> str:
    return f"voucher-delivery:{voucher.id}"


def resend_key_prefix(voucher: Voucher) -> str:
    return f"voucher-resend:{voucher.id}:"


def queue_delivery(*, session: Session, voucher: Voucher, now: datetime | None = None,
                   send_at: datetime | None = None) -> bool:
    """Queue the voucher email (with its PDF) for the recipient, on the chosen day (or at
    `send_at`, a delivery staff re-addressed); once."""
    return _queue_voucher_email(
        session, voucher, send_at=send_at or send_after(voucher.send_on, now or utcnow()),
        dedupe_key=delivery_key(voucher),
    )


def queue_resend(*, session: Session, voucher: Voucher, now: datetime | None = None,
                 every_time: bool = False) -> bool:
    """Send it again now; repeated clicks within the same minute send one email, unless
    `every_time` (staff, who may have just corrected the address or replaced the code)."""
    now = now or utcnow()
    click = secrets.token_hex(8) if every_time else f"{now:%Y%m%d%H%M}"
    return _queue_voucher_email(
        session, voucher, send_at=None, dedupe_key=f"{resend_key_prefix(voucher)}{click}"
    )


def resend_for_order(*, session: Session, order_id: int, voucher_id: int) -> Voucher:
    """Resend one of the vouchers an order bought (not one it merely paid with)."""
    voucher = session.get(Voucher, voucher_id)
    if voucher is None or voucher.order_id != order_id or voucher.status == "void":
        raise NotFound("This order bought no such voucher.", code="voucher_not_found")
    queue_resend(session=session, voucher=voucher)
    return voucher


def queue_reminder(*, session: Session, voucher: Voucher, days: int, threshold: int) -> None:
    """"Your voucher expires in N days": no code in it, only its last four characters, so it
    is not sealed.

    Sent once per threshold (30, 7) and expiry date: an extended voucher is reminded again.
    """
    address = delivery_address(voucher)
    if address is None:
        return
    expires = as_utc(voucher.expires_at).astimezone(CLINIC_TIME)
    what = describe(voucher) if voucher.kind == "treatment" else (
        f"{format_money(voucher.available)} left")
    text = "\n".join([
        f"Hello {voucher.recipient_name}," if voucher.recipient_name else "Hello,", "",
        f"Your {CLINIC} gift voucher ending {voucher.code_last4} ({what}) expires on "
        f"{expires:%d %B %Y}, in {days} days.", "", _how_to_use(voucher), "", CLINIC,
    ])
    notifications.enqueue_email(
        session=session, to=address, subject=f"Your {CLINIC} gift voucher expires in {days} days",
        text=text, html=_email_html(text),
        dedupe_key=f"voucher-reminder:{voucher.id}:{threshold}:{expires:%Y%m%d}",
    )
