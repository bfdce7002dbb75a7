"""Staff finding vouchers without their code, and sending one again (to a corrected
recipient, with a fresh code when the first went to the wrong person)."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from shop.audit.models import AuditEntry
from shop.carts import services as carts
from shop.db import as_utc, utcnow
from shop.notifications import sealing
from shop.notifications.models import OutboxEmail
from shop.vouchers import checkout, codes, delivery, holds
from shop.vouchers.models import CartVoucher, Voucher
from tests.vouchers.conftest import FakeOrder, issue_money, issue_treatment

LIST = "/api/v1/admin/vouchers"


def resend_url(voucher: Voucher) -> str:
    return f"{LIST}/{voucher.id}/resend"


def outbox_to(session, to: str) -> list[OutboxEmail]:
    session.expire_all()  # rows the request deleted may stand in this session's identity map
    return list(session.scalars(select(OutboxEmail).where(OutboxEmail.to == to)
                                .order_by(OutboxEmail.id)))


def code_in(email: OutboxEmail) -> str:
    text = sealing.content_of(email).text
    return codes.normalise(text.split("Your voucher code: ")[1].split()[0])


def listed(client, staff_headers, query: str) -> list[int]:
    response = client.get(f"{LIST}?per_page=100&{query}", headers=staff_headers)
    assert response.status_code == 200, response.json
    return [item["id"] for item in response.json["items"]]


# --- the list ------------------------------------------------------------------------------

def test_find_by_email_name_or_last_four(client, db_session, staff_headers):
    ada = issue_money(db_session, 5000, recipient_name="Ada Lovelace",
                      recipient_email="ada@example.com", purchaser_email="Bob.Buyer@Example.com")
    other = issue_treatment(db_session, "aquagold", purchaser_email="carol@example.com")
    assert listed(client, staff_headers, "q=bob.buyer") == [ada.voucher.id]
    assert listed(client, staff_headers, "q=ADA@EXAMPLE") == [ada.voucher.id]
    assert listed(client, staff_headers, "q=lovelace") == [ada.voucher.id]
    assert listed(client, staff_headers, f"last4={ada.code[-4:].lower()}") == [ada.voucher.id]
    assert listed(client, staff_headers, "q=%25") == []  # a literal "%", not a wildcard
    both = listed(client, staff_headers, "q=example.com")
    assert both[:2] == [other.voucher.id, ada.voucher.id]  # newest first
    item = client.get(f"{LIST}?q=bob.buyer", headers=staff_headers).json["items"][0]
    assert item["purchaser_email"] == "Bob.Buyer@Example.com"
    assert item["code_last4"] == ada.code[-4:] and ada.code not in str(item)
    assert "ledger" not in item


def test_filter_by_status_kind_order_and_expiry(client, db_session, staff_headers):
    live = issue_money(db_session, 5000, purchaser_email="filters@example.com", order_id=424242)
    lapsed = issue_money(db_session, 5000, purchaser_email="filters@example.com",
                         now=utcnow() - timedelta(days=400))
    treatment = issue_treatment(db_session, purchaser_email="filters@example.com")
    void = issue_money(db_session, 5000, purchaser_email="filters@example.com")
    client.post(f"{LIST}/{void.code}/void", headers=staff_headers, json={"reason": "test void"})
    mine = "q=filters@example.com"
    assert set(listed(client, staff_headers, f"{mine}&status=active")) == {
        live.voucher.id, treatment.voucher.id}
    assert listed(client, staff_headers, f"{mine}&status=expired") == [lapsed.voucher.id]
    assert listed(client, staff_headers, f"{mine}&status=void") == [void.voucher.id]
    assert listed(client, staff_headers, f"{mine}&kind=treatment") == [treatment.voucher.id]
    assert listed(client, staff_headers, "order_id=424242") == [live.voucher.id]
    soon = (utcnow() + timedelta(days=1)).date().isoformat()
    assert listed(client, staff_headers, f"{mine}&expires_before={soon}") == [lapsed.voucher.id]
    expired_item = client.get(f"{LIST}?{mine}&status=expired", headers=staff_headers).json
    assert expired_item["items"][0]["status"] == "expired"
    for bad in ("status=spent", "kind=cash", "last4=ABC", "order_id=-1", "unknown=1"):
        response = client.get(f"{LIST}?{bad}", headers=staff_headers)
        assert response.status_code == 422, bad
        assert response.content_type == "application/problem+json"


def test_list_as_csv(client, db_session, staff_headers):
    issued = issue_money(db_session, 2500, recipient_email="csv@example.com")
    response = client.get(f"{LIST}?q=csv@example.com&format=csv", headers=staff_headers)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    [row] = csv.DictReader(io.StringIO(response.get_data(as_text=True)))
    assert row["id"] == str(issued.voucher.id) and row["recipient_email"] == "csv@example.com"
    assert issued.code not in response.get_data(as_text=True)


@pytest.mark.parametrize(("method", "path"), [("get", LIST), ("post", f"{LIST}/1/resend")])
def test_staff_only(client, customer_headers, method, path):
    assert getattr(client, method)(path, json={}).status_code == 401
    assert getattr(client, method)(path, json={}, headers=customer_headers).status_code == 403


# --- sending again -------------------------------------------------------------------------

def delivered(session, issued) -> OutboxEmail:
    """The voucher's first email, as the worker leaves it once sent."""
    delivery.queue_delivery(session=session, voucher=issued.voucher)
    email = session.scalar(select(OutboxEmail).where(
        OutboxEmail.dedupe_key == delivery.delivery_key(issued.voucher)))
    email.status, email.sent_at = "sent", utcnow()
    sealing.discard_content(email)
    session.flush()
    return email


def test_resend_to_a_corrected_address(client, db_session, staff_headers):
    issued = issue_money(db_session, 5000, recipient_name="Ada",
                         recipient_email="ada@exmaple.com", purchaser_email="bob@example.com")
    delivered(db_session, issued)
    response = client.post(resend_url(issued.voucher), headers=staff_headers, json={
        "recipient_email": "ada@example.com", "note": "typo in the address"})
    assert response.status_code == 202, response.json
    body = response.json
    assert body["sent_to"] == "ada@example.com" and body["send_after"] is None
    assert body["code_replaced"] is False
    assert body["voucher"]["recipient_email"] == "ada@example.com"
    [email] = outbox_to(db_session, "ada@example.com")
    assert code_in(email) == issued.code and email.sealed
    entry = db_session.scalar(select(AuditEntry).where(
        AuditEntry.entity == "voucher", AuditEntry.action == "voucher.resend"))
    assert entry.before["recipient_email"] == "ada@exmaple.com"
    assert entry.after["recipient_email"] == "ada@example.com"
    assert entry.after["note"] == "typo in the address"


def test_a_second_correction_within_the_minute_is_sent_too(client, db_session, staff_headers):
    issued = issue_money(db_session, 5000, recipient_email="first@exmaple.com")
    delivered(db_session, issued)
    url = resend_url(issued.voucher)
    assert client.post(url, headers=staff_headers, json={
        "recipient_email": "second@exmaple.com"}).status_code == 202
    [first] = outbox_to(db_session, "second@exmaple.com")
    first.status = "sent"  # the worker was quick
    db_session.flush()
    assert client.post(url, headers=staff_headers, json={
        "recipient_email": "third@example.com", "new_code": True}).status_code == 202
    [email] = outbox_to(db_session, "third@example.com")
    assert code_in(email) != issued.code


def test_a_fresh_code_stops_the_old_one(client, db_session, staff_headers):
    issued = issue_money(db_session, 5000, recipient_email="wrong@example.com")
    delivered(db_session, issued)
    cart, _ = carts.create_cart(session=db_session, user=None)
    carts.add_item(session=db_session, cart_id=cart.id, user=None, sku="GLW-BRUSH-SONIC",
                   quantity=1)
    checkout.apply_code(session=db_session, cart_id=cart.id, user=None, code=issued.code)
    response = client.post(resend_url(issued.voucher), headers=staff_headers, json={
        "recipient_email": "right@example.com", "new_code": True})
    assert response.status_code == 202, response.json
    assert response.json["code_replaced"] is True
    [email] = outbox_to(db_session, "right@example.com")
    fresh = code_in(email)
    assert fresh != issued.code and response.json["voucher"]["code_last4"] == fresh[-4:]
    assert client.get(f"/api/v1/vouchers/{issued.code}").status_code == 404
    looked_up = client.get(f"/api/v1/vouchers/{fresh}")
    assert looked_up.status_code == 200 and looked_up.json["balance"]["amount"] == 5000
    assert db_session.scalar(select(CartVoucher).where(
        CartVoucher.voucher_id == issued.voucher.id)) is None  # the wrong holder's cart lost it


def test_no_fresh_code_while_an_unpaid_order_holds_part(client, db_session, staff_headers,
                                                       fake_order_ids):
    issued = issue_money(db_session, 5000, recipient_email="held@example.com")
    holds.hold_for_order(session=db_session, order=FakeOrder(fake_order_ids(), 1500),
                         codes=[issued.code])
    response = client.post(resend_url(issued.voucher), headers=staff_headers,
                           json={"new_code": True})
    assert response.status_code == 409 and response.json["code"] == "voucher_held"
    assert client.get(f"/api/v1/vouchers/{issued.code}").status_code == 200
    assert outbox_to(db_session, "held@example.com") == []


def test_a_booked_delivery_is_readdressed_for_its_day(client, db_session, staff_headers):
    send_on = date.today() + timedelta(days=10)
    issued = issue_money(db_session, 2500, recipient_email="old@example.com", send_on=send_on)
    delivery.queue_delivery(session=db_session, voucher=issued.voucher)
    [booked] = outbox_to(db_session, "old@example.com")
    due = as_utc(booked.next_attempt_at)
    response = client.post(resend_url(issued.voucher), headers=staff_headers,
                           json={"recipient_email": "new@example.com", "recipient_name": "Nia"})
    assert response.status_code == 202, response.json
    assert response.json["send_after"].startswith(due.isoformat()[:19])
    assert outbox_to(db_session, "old@example.com") == []  # the old address gets nothing
    [email] = outbox_to(db_session, "new@example.com")
    assert as_utc(email.next_attempt_at) == due and "Hello Nia," in sealing.content_of(email).text
    now = client.post(resend_url(issued.voucher), headers=staff_headers, json={"send_now": True})
    assert now.status_code == 202 and now.json["send_after"] is None
    [email] = outbox_to(db_session, "new@example.com")
    assert as_utc(email.next_attempt_at) <= utcnow()


@pytest.mark.parametrize("how", ["void", "expired", "redeemed"])
def test_only_an_active_voucher_is_sent_again(client, db_session, staff_headers, how):
    issued = issue_treatment(db_session, recipient_email="gone@example.com",
                             now=utcnow() - timedelta(days=400) if how == "expired" else None)
    if how == "void":
        client.post(f"{LIST}/{issued.code}/void", headers=staff_headers, json={"reason": "void"})
    if how == "redeemed":
        client.post(f"{LIST}/{issued.code}/redemptions", headers=staff_headers,
                    json={"treatment": "hydra-facial"})
    response = client.post(resend_url(issued.voucher), headers=staff_headers, json={})
    assert response.status_code == 409 and response.json["code"] == "voucher_not_active"
    assert response.json["voucher_status"] == how
    assert outbox_to(db_session, "gone@example.com") == []


def test_unknown_voucher_bad_fields_and_no_address(client, db_session, staff_headers):
    assert client.post(f"{LIST}/99999999/resend", headers=staff_headers,
                       json={}).status_code == 404
    issued = issue_money(db_session, 1000)  # bought at the desk: nobody's email on it
    bad = client.post(resend_url(issued.voucher), headers=staff_headers,
                      json={"recipient_email": "not an email"})
    assert bad.status_code == 422 and "recipient_email" in bad.json["errors"]
    nobody = client.post(resend_url(issued.voucher), headers=staff_headers, json={})
    assert nobody.status_code == 422 and "recipient_email" in nobody.json["errors"]
    db_session.expire_all()
    assert db_session.get(Voucher, issued.voucher.id).code_last4 == issued.code[-4:]
