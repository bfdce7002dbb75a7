"""Vouchers the clinic gives (goodwill, a complaint put right): an admin issues one, it is
emailed to the recipient like a bought one, and no member of staff ever sees its code."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from shop.audit.models import AuditEntry
from shop.catalogue.models import Treatment
from shop.db import as_utc, utcnow
from shop.notifications import sealing
from shop.notifications.models import OutboxEmail
from shop.vouchers import codes, delivery
from shop.vouchers.models import Voucher, VoucherTransaction
from tests.vouchers.cleartext import places_holding
from tests.vouchers.conftest import assert_ledger_matches

GIVE = "/api/v1/admin/vouchers"


def gbp(amount: int) -> dict:
    return {"amount": amount, "currency": "GBP"}


def give(client, headers, **changes):
    """A money voucher of 15.00 for Ada, but for `changes` (a None leaves that field out)."""
    body = {"kind": "money", "amount": gbp(1500), "recipient_email": "ada@example.com",
            "reason": "parcel arrived late", **changes}
    return client.post(GIVE, headers=headers,
                       json={key: value for key, value in body.items() if value is not None})


def delivery_email(session, voucher_id: int) -> OutboxEmail:
    return session.scalars(select(OutboxEmail).where(
        OutboxEmail.dedupe_key == f"voucher-delivery:{voucher_id}")).one()


def code_in(email: OutboxEmail) -> str:
    text = sealing.content_of(email).text
    return codes.normalise(text.split("Your voucher code: ")[1].split()[0])


def test_an_admin_gives_a_money_voucher_that_reaches_its_recipient_only(
        client, db_session, admin_headers):
    response = give(client, admin_headers, recipient_name="Ada", message="Sorry for the wait")
    assert response.status_code == 201, response.json
    body = response.json
    shown = body["voucher"]
    assert (body["sent_to"], body["send_after"]) == ("ada@example.com", None)
    assert (shown["kind"], shown["status"], shown["initial_value"], shown["available"]) == (
        "money", "active", gbp(1500), gbp(1500))
    assert (shown["recipient_name"], shown["purchaser_email"], shown["order_id"]) == (
        "Ada", None, None)
    assert shown["source"] == "clinic_gift"
    listed = client.get(f"{GIVE}?source=clinic_gift&q=ada@example.com",
                        headers=admin_headers).json["items"]
    assert shown["id"] in [item["id"] for item in listed]

    email = delivery_email(db_session, shown["id"])
    assert email.to == "ada@example.com" and email.sealed and "£15.00" in email.subject
    code = code_in(email)
    assert codes.last4(code) == shown["code_last4"] and code not in str(body)
    text = sealing.content_of(email).text
    assert "GLOW Clinic is giving you a gift voucher: £15.00." in text
    assert "Our message:\nSorry for the wait" in text
    looked_up = client.get(f"/api/v1/vouchers/{code}").json
    assert (looked_up["balance"], looked_up["status"]) == (gbp(1500), "active")
    assert places_holding(db_session, code) == []  # the audit and idempotency rows included

    voucher = assert_ledger_matches(db_session, shown["id"])
    [issued] = db_session.scalars(select(VoucherTransaction).where(
        VoucherTransaction.voucher_id == voucher.id)).all()
    assert issued.kind == "issue" and issued.staff_user_id is not None
    assert issued.note == "given by the clinic: parcel arrived late"
    entry = db_session.scalars(select(AuditEntry).where(
        AuditEntry.action == "voucher.give", AuditEntry.entity_id == str(voucher.id))).one()
    assert entry.after["reason"] == "parcel arrived late" and entry.after["value"] == 1500
    staff_view = client.get(f"{GIVE}/{code}", headers=admin_headers).json
    assert staff_view["ledger"][0]["note"] == "given by the clinic: parcel arrived late"


def test_a_treatment_voucher_is_worth_its_treatment_and_can_wait_for_a_day(
        client, db_session, admin_headers):
    treatment = db_session.scalar(select(Treatment).where(Treatment.slug == "hydra-facial"))
    birthday = (utcnow() + timedelta(days=10)).date()
    response = give(client, admin_headers, kind="treatment", amount=None,
                    treatment="hydra-facial", send_on=birthday.isoformat())
    assert response.status_code == 201, response.json
    shown = response.json["voucher"]
    assert shown["treatment"]["slug"] == "hydra-facial"
    assert shown["initial_value"] == gbp(treatment.price_amount)
    booked = delivery.send_after(birthday, utcnow())  # 08:00 that day, clinic time
    assert datetime.fromisoformat(response.json["send_after"]) == booked
    assert as_utc(delivery_email(db_session, shown["id"]).next_attempt_at) == booked


def test_only_admins_give_vouchers(client, staff_headers, db_session):
    before = db_session.scalar(select(Voucher.id).order_by(Voucher.id.desc()).limit(1))
    assert give(client, staff_headers).status_code == 403
    assert give(client, {}).status_code == 401
    assert db_session.scalar(select(Voucher.id).order_by(Voucher.id.desc()).limit(1)) == before


def test_what_cannot_be_given_is_refused_field_by_field(client, db_session, admin_headers):
    cases = [
        ({"amount": None}, "amount"),
        ({"amount": gbp(0)}, "amount"),
        ({"amount": {"amount": 1500, "currency": "EUR"}}, "amount"),
        ({"amount": gbp(10_000_000)}, "amount"),
        ({"treatment": "hydra-facial"}, "treatment"),
        ({"kind": "treatment", "amount": None}, "treatment"),
        ({"kind": "treatment", "treatment": "hydra-facial"}, "amount"),
        ({"kind": "treatment", "amount": None, "treatment": "no-such-thing"}, "treatment"),
        ({"recipient_email": None}, "recipient_email"),
        ({"recipient_email": "not an email"}, "recipient_email"),
        ({"reason": ""}, "reason"),
        ({"send_on": (utcnow() - timedelta(days=2)).date().isoformat()}, "send_on"),
        ({"send_on": (utcnow() + timedelta(days=400)).date().isoformat()}, "send_on"),
    ]
    before = db_session.scalar(select(Voucher.id).order_by(Voucher.id.desc()).limit(1))
    for change, field in cases:
        response = give(client, admin_headers, **change)
        assert response.status_code == 422, (change, response.json)
        assert response.content_type == "application/problem+json"
        assert field in str(response.json.get("errors")), (change, response.json)
    assert db_session.scalar(select(Voucher.id).order_by(Voucher.id.desc()).limit(1)) == before


def test_a_retried_request_gives_one_voucher(client, db_session, admin_headers):
    headers = {**admin_headers, "Idempotency-Key": "give-ada-once"}
    first = give(client, headers, recipient_email="once@example.com")
    again = give(client, headers, recipient_email="once@example.com")
    assert first.status_code == again.status_code == 201
    assert first.json["voucher"]["id"] == again.json["voucher"]["id"]
    assert len(db_session.scalars(select(Voucher).where(
        Voucher.recipient_email == "once@example.com")).all()) == 1
