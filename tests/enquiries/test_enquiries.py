"""POST /treatments/{slug}/enquiries and the staff's list: the clinic and the customer are
emailed, staff mark enquiries answered, the data goes with the account or a year after."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from shop.audit.models import AuditEntry
from shop.db import utcnow
from shop.enquiries.jobs import purge_enquiries
from shop.enquiries.models import TreatmentEnquiry
from shop.notifications.models import OutboxEmail
from tests.accounts.test_api import assert_problem
from tests.accounts.test_ratelimits import assert_rate_limited
from tests.fixtures.auth import bearer_for, make_user

HYDRA = "/api/v1/treatments/hydra-facial/enquiries"
ADMIN = "/api/v1/admin/enquiries"
ASK = {"name": "Lara Croft", "email": "Lara@example.com", "phone": "+44 7700 900123",
       "preferred_times": "weekday evenings", "message": "First time: is it suitable?"}


def emails(session) -> list[OutboxEmail]:
    return list(session.scalars(select(OutboxEmail).order_by(OutboxEmail.id)))


def test_an_enquiry_reaches_the_clinic_and_is_acknowledged(client, db_session, app,
                                                           monkeypatch):
    monkeypatch.setitem(app.config, "STAFF_ALERT_EMAIL", "desk@glow.example")
    response = client.post(HYDRA, json=ASK)
    assert response.status_code == 202, response.json
    enquiry = db_session.get(TreatmentEnquiry, response.json["id"])
    assert (enquiry.treatment_name, enquiry.email, enquiry.status) == \
        ("Hydra Facial", "lara@example.com", "new")
    to_clinic, to_customer = emails(db_session)
    assert to_clinic.to == "desk@glow.example"
    assert to_clinic.subject == "Treatment enquiry: Hydra Facial"
    for detail in ("Lara Croft", "lara@example.com", "+44 7700 900123", "weekday evenings",
                   "First time: is it suitable?"):
        assert detail in to_clinic.text
    assert to_customer.to == "lara@example.com" and "Hydra Facial" in to_customer.subject


def test_what_cannot_be_asked(client, db_session):
    assert_problem(client.post("/api/v1/treatments/no-such/enquiries", json=ASK), 404,
                   "treatment_not_found")
    for field, value in (("email", "not an address"), ("name", "  "), ("phone", "call me"),
                         ("message", "x" * 2001)):
        body = assert_problem(client.post(HYDRA, json={**ASK, field: value}), 422,
                              "validation_error")
        assert list(body["errors"]) == [field]
    assert db_session.scalar(select(func.count()).select_from(TreatmentEnquiry)) == 0


def test_staff_work_through_them_and_it_is_audited(client, db_session, app, monkeypatch):
    monkeypatch.setitem(app.config, "STAFF_ALERT_EMAIL", "desk@glow.example")
    staff_user = make_user(db_session, role="staff")
    staff = bearer_for(db_session, staff_user)
    first = client.post(HYDRA, json=ASK).json["id"]
    client.post(HYDRA, json={**ASK, "email": "second@example.com"})
    new = client.get(f"{ADMIN}?status=new", headers=staff).json
    assert new["total"] == 2
    changed = client.patch(f"{ADMIN}/{first}", json={"status": "contacted"}, headers=staff)
    assert changed.status_code == 200
    assert (changed.json["status"], changed.json["handled_by_id"]) == ("contacted", staff_user.id)
    assert client.get(f"{ADMIN}?status=new", headers=staff).json["total"] == 1
    entry = db_session.scalar(select(AuditEntry).where(AuditEntry.action == "enquiry.update"))
    assert (entry.before, entry.after) == ({"status": "new"}, {"status": "contacted"})
    assert_problem(client.get(f"{ADMIN}/999999", headers=staff), 404, "enquiry_not_found")
    customer = bearer_for(db_session, make_user(db_session))
    assert client.get(ADMIN, headers=customer).status_code == 403


def test_a_customers_enquiries_are_exported_and_go_with_the_account(client, db_session):
    user = make_user(db_session, email="lara@example.com")
    headers = bearer_for(db_session, user)
    assert client.post(HYDRA, json=ASK, headers=headers).status_code == 202
    assert client.post(HYDRA, json=ASK).status_code == 202  # same address, signed out
    export = client.get("/api/v1/me/export", headers=headers).json
    assert [e["treatment"] for e in export["treatment_enquiries"]] == ["Hydra Facial"]
    assert client.delete("/api/v1/me", headers=headers).status_code == 204
    assert db_session.scalar(select(func.count()).select_from(TreatmentEnquiry)) == 0


def test_closed_enquiries_are_deleted_after_the_retention_period(client, db_session):
    staff = bearer_for(db_session, make_user(db_session, role="staff"))
    closed = client.post(HYDRA, json=ASK).json["id"]
    client.post(HYDRA, json=ASK)  # still open: kept
    client.patch(f"{ADMIN}/{closed}", json={"status": "closed"}, headers=staff)
    now = utcnow()
    assert purge_enquiries(session=db_session, now=now + timedelta(days=364)) == 0
    assert purge_enquiries(session=db_session, now=now + timedelta(days=366)) == 1
    assert db_session.get(TreatmentEnquiry, closed) is None


def test_enquiries_are_limited_per_ip_and_per_address(limited_app, db_session):
    per_ip = limited_app(ENQUIRY_RATE_LIMIT="1 per minute").test_client()
    assert per_ip.post(HYDRA, json=ASK).status_code == 202
    assert_rate_limited(per_ip.post(HYDRA, json={**ASK, "email": "other@example.com"}))
    per_address = limited_app(ENQUIRY_RATE_LIMIT="100 per minute",
                              ENQUIRY_EMAIL_RATE_LIMIT="1 per minute").test_client()
    assert per_address.post(HYDRA, json={**ASK, "email": "x@example.com"}).status_code == 202
    assert_rate_limited(per_address.post(HYDRA, json={**ASK, "email": "X@example.com"}))
