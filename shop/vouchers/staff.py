"""Staff tools for vouchers they cannot find by code: the list (a customer on the phone knows
their email, not the code), and sending a voucher again, to a corrected address if need be,
with a fresh code when the first one went to the wrong person; and vouchers the clinic gives
(a goodwill gesture, a complaint put right), issued by an admin and emailed like bought ones.

Staff never see a full code: a voucher goes to its recipient by email only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from flask import current_app
from sqlalchemy import Select, and_, delete, func, or_, select
from sqlalchemy.orm import Session

from shop.accounts.models import User
from shop.audit import record as audit_record
from shop.catalogue.models import Treatment
from shop.db import as_utc, utcnow
from shop.errors import Conflict, NotFound, ValidationFailed
from shop.money import Money
from shop.notifications.models import OutboxEmail
from shop.vouchers import codes, delivery, services
from shop.vouchers.models import CartVoucher, Voucher


def _effective_status_is(status: str, now: datetime):
    """The SQL twin of services.effective_status: an active voucher past expiry is expired."""
    lapsed = Voucher.expires_at <= now
    if status == "active":
        return and_(Voucher.status == "active", ~lapsed)
    if status == "expired":
        return or_(Voucher.status == "expired", and_(Voucher.status == "active", lapsed))
    return Voucher.status == status


def list_query(
    *, q: str | None = None, last4: str | None = None, status: str | None = None,
    kind: str | None = None, source: str | None = None, order_id: int | None = None,
    expires_before: date | None = None, now: datetime | None = None,
) -> Select:
    """Vouchers newest first: `q` is part of the buyer's or recipient's email or the
    recipient's name (any case), `last4` the end of the code as a receipt or email shows it."""
    stmt = select(Voucher)
    if q:
        stmt = stmt.where(or_(*(func.lower(column).contains(q.lower(), autoescape=True)
                                for column in (Voucher.purchaser_email, Voucher.recipient_email,
                                               Voucher.recipient_name))))
    if last4:
        stmt = stmt.where(Voucher.code_last4 == codes.normalise(last4))
    if status:
        stmt = stmt.where(_effective_status_is(status, now or utcnow()))
    if kind:
        stmt = stmt.where(Voucher.kind == kind)
    if source:
        stmt = stmt.where(Voucher.source == source)
    if order_id is not None:
        stmt = stmt.where(Voucher.order_id == order_id)
    if expires_before:
        stmt = stmt.where(
            Voucher.expires_at < datetime.combine(expires_before, time.min, tzinfo=UTC))
    return stmt.order_by(Voucher.created_at.desc(), Voucher.id.desc())


@dataclass(frozen=True)
class Resent:
    voucher: Voucher
    sent_to: str
    send_after: datetime | None  # None: as soon as the worker runs
    code_replaced: bool


def _locked(session: Session, voucher_id: int) -> Voucher:
    voucher = session.scalar(select(Voucher).where(Voucher.id == voucher_id)
                             .with_for_update(of=Voucher)
                             .execution_options(populate_existing=True))
    if voucher is None:
        raise NotFound("No such voucher.", code="voucher_not_found")
    return voucher


def _who(voucher: Voucher) -> dict:
    return {"recipient_name": voucher.recipient_name, "recipient_email": voucher.recipient_email,
            "code_last4": voucher.code_last4}


def _replace_code(session: Session, voucher: Voucher) -> None:
    """A fresh code; the old one stops working at once, and carts it was applied to (perhaps
    by whoever received it by mistake) lose it."""
    if voucher.held_amount:
        raise Conflict("An unpaid order holds part of this voucher; wait until it is paid or "
                       "cancelled.", code="voucher_held")
    code = codes.generate_code()
    voucher.code_hash = codes.lookup_hash(code, secret=services.secret())
    voucher.code_encrypted = codes.encrypt(code, secret=services.secret())
    voucher.code_last4 = codes.last4(code)
    session.execute(delete(CartVoucher).where(CartVoucher.voucher_id == voucher.id)
                    .execution_options(synchronize_session=False))


def _withdraw_unsent(session: Session, voucher: Voucher) -> datetime | None:
    """Drop the voucher's emails not sent yet (they carry the old address or code). Returns
    when its first delivery was due, if that was among them. On PostgreSQL a worker sending
    one holds its row: this waits, and finds it sent."""
    dropped = session.execute(
        delete(OutboxEmail)
        .where(OutboxEmail.status == "pending",
               or_(OutboxEmail.dedupe_key == delivery.delivery_key(voucher),
                   OutboxEmail.dedupe_key.startswith(delivery.resend_key_prefix(voucher),
                                                     autoescape=True)))
        .returning(OutboxEmail.dedupe_key, OutboxEmail.next_attempt_at)
        .execution_options(synchronize_session=False)
    ).all()
    return next((as_utc(due) for key, due in dropped if key == delivery.delivery_key(voucher)),
                None)


def resend(
    *, session: Session, voucher_id: int, staff: User, recipient_email: str | None = None,
    recipient_name: str | None = None, new_code: bool = False, send_now: bool = False,
    note: str = "",
) -> Resent:
    """Send the voucher email again, to a corrected recipient if given. A delivery booked for a
    later day keeps its day unless `send_now`. Audited."""
    voucher = _locked(session, voucher_id)
    if services.effective_status(voucher) != "active":
        raise Conflict("Only an active voucher can be sent again.", code="voucher_not_active",
                       voucher_status=services.effective_status(voucher))
    before = _who(voucher)
    if recipient_email is not None:
        voucher.recipient_email = recipient_email
    if recipient_name is not None:
        voucher.recipient_name = recipient_name
    if delivery.delivery_address(voucher) is None:
        raise ValidationFailed("Nobody to send it to: give the recipient's email.", errors={
            "recipient_email": ["Neither a recipient nor a buyer's email is on the voucher."]})
    if new_code:
        _replace_code(session, voucher)
    booked = _withdraw_unsent(session, voucher)
    now = utcnow()
    if booked is not None and booked > now and not send_now:
        delivery.queue_delivery(session=session, voucher=voucher, send_at=booked)
        send_after = booked
    else:
        delivery.queue_resend(session=session, voucher=voucher, now=now, every_time=True)
        send_after = None
    session.flush()
    audit_record(session=session, actor=staff, action="voucher.resend", entity="voucher",
                 entity_id=str(voucher.id), before=before,
                 after={**_who(voucher), "note": note, "send_after": send_after})
    return Resent(voucher, delivery.delivery_address(voucher), send_after, new_code)


@dataclass(frozen=True)
class Given:
    voucher: Voucher
    sent_to: str
    send_after: datetime | None  # None: as soon as the worker runs


def _value(session: Session, kind: str, amount: Money | None,
           treatment_slug: str | None) -> tuple[Money, Treatment | None]:
    if kind == "treatment":
        treatment = session.scalar(select(Treatment).where(Treatment.slug == treatment_slug,
                                                           Treatment.status == "active"))
        if treatment is None:
            raise ValidationFailed("No such treatment.", errors={
                "treatment": ["No treatment on offer has this slug."]})
        return treatment.price, treatment
    currency, high = current_app.config["SHOP_CURRENCY"], current_app.config["MONEY_VOUCHER_MAX"]
    if amount.currency != currency or not 1 <= amount.amount <= high:
        raise ValidationFailed(
            "Choose the voucher's value.", code="voucher_amount_out_of_range",
            errors={"amount": [f"From 1 to {high} (minor units of {currency})."]})
    return amount, None


def give(
    *, session: Session, staff: User, kind: str, reason: str, recipient_email: str,
    recipient_name: str = "", message: str = "", send_on: date | None = None,
    amount: Money | None = None, treatment: str | None = None,
) -> Given:
    """Issue a voucher the clinic gives away and queue its email (on `send_on`'s morning, or
    now). It was not bought: no order, no buyer. Audited, with the reason in its ledger."""
    now = utcnow()
    if not delivery.send_on_allowed(send_on, now):
        raise ValidationFailed("Pick a delivery date from today to a year ahead.", errors={
            "send_on": ["Must be today or later, at most a year ahead."]})
    value, offered = _value(session, kind, amount, treatment)
    voucher = services.issue(
        session=session, kind=kind, value=value, treatment=offered,
        recipient_name=recipient_name, recipient_email=recipient_email, message=message,
        send_on=send_on, staff_user_id=staff.id, note=f"given by the clinic: {reason}",
        now=now,
    ).voucher
    delivery.queue_delivery(session=session, voucher=voucher, now=now)
    audit_record(session=session, actor=staff, action="voucher.give", entity="voucher",
                 entity_id=str(voucher.id), before=None,
                 after={**_who(voucher), "kind": kind, "value": value.amount,
                        "currency": value.currency, "treatment": treatment, "reason": reason})
    return Given(voucher, recipient_email, delivery.send_after(send_on, now))
