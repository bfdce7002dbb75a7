"""Taking a treatment enquiry (the clinic is emailed, the customer gets an acknowledgement),
staff working through them, and the data going with the account or after a year."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from shop.accounts.models import User
from shop.admin.stock.alerts import alert_recipients
from shop.audit import record as audit_record
from shop.catalogue.models import Treatment
from shop.enquiries.models import TreatmentEnquiry
from shop.errors import NotFound
from shop.notifications import services as notifications
from shop.orders.emails import letter


def make_enquiry(*, session: Session, slug: str, user: User | None,
                 data: dict[str, Any]) -> TreatmentEnquiry:
    treatment = session.scalar(select(Treatment).where(Treatment.slug == slug,
                                                       Treatment.status == "active"))
    if treatment is None:
        raise NotFound("No such treatment.", code="treatment_not_found")
    enquiry = TreatmentEnquiry(
        treatment_id=treatment.id, treatment_name=treatment.name,
        name=data["name"].strip(), email=data["email"].strip().lower(),
        phone=data.get("phone", "").strip(), preferred_times=data.get("preferred_times", ""),
        message=data.get("message", ""), user_id=user.id if user else None)
    session.add(enquiry)
    session.flush()
    _tell_the_clinic(session, enquiry)
    _acknowledge(session, enquiry)
    return enquiry


def _tell_the_clinic(session: Session, enquiry: TreatmentEnquiry) -> None:
    details = [f"Treatment: {enquiry.treatment_name}", f"Name: {enquiry.name}",
               f"Email: {enquiry.email}", f"Phone: {enquiry.phone or '-'}",
               f"Preferred times: {enquiry.preferred_times or '-'}",
               f"Message: {enquiry.message or '-'}"]
    details.append(f"Enquiry number {enquiry.id}: mark it contacted or closed in the staff "
                   "tools once answered.")
    text, html = letter(f"Treatment enquiry {enquiry.id}", details, [])
    for address in alert_recipients(session=session,
                                    configured=current_app.config["STAFF_ALERT_EMAIL"]):
        notifications.enqueue_email(
            session=session, to=address, subject=f"Treatment enquiry: {enquiry.treatment_name}",
            text=text, html=html, dedupe_key=f"enquiry:{enquiry.id}:{address}"[:255])


def _acknowledge(session: Session, enquiry: TreatmentEnquiry) -> None:
    text, html = letter("We have your enquiry", [
        f"Thank you, {enquiry.name}: we have your enquiry about {enquiry.treatment_name}.",
        "The clinic will contact you to arrange a time.",
    ], [])
    notifications.enqueue_email(
        session=session, to=enquiry.email, text=text, html=html,
        subject=f"Your GLOW Clinic enquiry about {enquiry.treatment_name}",
        dedupe_key=f"enquiry-ack:{enquiry.id}")


def list_query(*, status: str | None = None):
    stmt = select(TreatmentEnquiry)
    if status:
        stmt = stmt.where(TreatmentEnquiry.status == status)
    return stmt.order_by(TreatmentEnquiry.created_at.desc(), TreatmentEnquiry.id.desc())


def get(*, session: Session, enquiry_id: int) -> TreatmentEnquiry:
    enquiry = session.get(TreatmentEnquiry, enquiry_id)
    if enquiry is None:
        raise NotFound("No such enquiry.", code="enquiry_not_found")
    return enquiry


def set_status(*, session: Session, actor: User, enquiry_id: int,
               status: str) -> TreatmentEnquiry:
    enquiry = get(session=session, enquiry_id=enquiry_id)
    before = {"status": enquiry.status}
    enquiry.status, enquiry.handled_by_id = status, actor.id
    session.flush()
    audit_record(session=session, actor=actor, action="enquiry.update", entity="enquiry",
                 entity_id=str(enquiry.id), before=before, after={"status": status})
    return enquiry


def forget_account(*, session: Session, user: User) -> None:
    session.execute(delete(TreatmentEnquiry).where(or_(
        TreatmentEnquiry.user_id == user.id, TreatmentEnquiry.email == user.email)))


def export_enquiries(*, session: Session, user: User) -> list[dict]:
    rows = session.scalars(select(TreatmentEnquiry).where(TreatmentEnquiry.user_id == user.id)
                           .order_by(TreatmentEnquiry.id))
    return [{"treatment": row.treatment_name, "name": row.name, "email": row.email,
             "phone": row.phone, "preferred_times": row.preferred_times,
             "message": row.message, "status": row.status,
             "created_at": row.created_at.isoformat()} for row in rows]


def purge_old(*, session: Session, now: datetime, limit: int) -> int:
    """Closed enquiries are deleted ENQUIRY_RETENTION_DAYS after they were last updated."""
    cutoff = now - timedelta(days=current_app.config["ENQUIRY_RETENTION_DAYS"])
    ids = session.scalars(
        select(TreatmentEnquiry.id)
        .where(TreatmentEnquiry.status == "closed", TreatmentEnquiry.updated_at < cutoff)
        .order_by(TreatmentEnquiry.id).limit(limit).with_for_update(skip_locked=True)).all()
    if ids:
        session.execute(delete(TreatmentEnquiry).where(TreatmentEnquiry.id.in_(ids)))
    return len(ids)
