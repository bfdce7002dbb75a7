"""Voucher endpoints over HTTP: public look-up, staff tools, liability report, catalogue."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest

from shop.db import utcnow
from shop.notifications import sealing
from shop.vouchers import codes, holds
from shop.vouchers.models import Voucher
from tests.vouchers.conftest import (
    FakeOrder,
    assert_ledger_matches,
    issue_money,
    issue_treatment,
    make_order,
)

TREATMENT_VOUCHERS = {
    "hydra-facial-gift-voucher": "hydra-facial",
    "skin-peel-gift-voucher": "skin-peel",
    "bio-revitalisation-mesotherapy-gift-voucher": "bio-revitalisation-mesotherapy",
    "meso-botox-gift-voucher": "meso-botox",
    "aquagold-gift-voucher": "aquagold",
}


# --- catalogue -----------------------------------------------------------------------------

def test_gift_vouchers_are_in_the_catalogue(client):
    body = client.get("/api/v1/products?category=gift-vouchers&per_page=100").json
    slugs = {item["slug"] for item in body["items"]}
    assert slugs == {*TREATMENT_VOUCHERS, "glow-gift-voucher"}
    money = next(item for item in body["items"] if item["slug"] == "glow-gift-voucher")
    amounts = [v["price"]["amount"] for v in money["variants"]]
    assert amounts[:4] == [2500, 5000, 10000, 25000]
    assert [v["sku"] for v in money["variants"]][-1] == "GLW-GV-CUSTOM"
    for item in body["items"]:
        assert all(v["in_stock"] and v["available"] > 0 for v in item["variants"])


def test_treatment_voucher_costs_the_treatment(client):
    hydra = client.get("/api/v1/treatments/hydra-facial").json
    product = client.get("/api/v1/products/hydra-facial-gift-voucher").json
    assert product["variants"][0]["price"] == hydra["price"]
    assert product["variants"][0]["name"] == "1 × Hydra Facial"


def test_vouchers_count_as_in_stock(client):
    listed = client.get("/api/v1/products?category=gift-vouchers&in_stock=true&per_page=100")
    assert listed.json["total"] == 6
    hidden = client.get("/api/v1/products?category=gift-vouchers&in_stock=false&per_page=100")
    assert hidden.json["total"] == 0


# --- public look-up ------------------------------------------------------------------------

def test_look_up_a_money_voucher(client, db_session):
    issued = issue_money(db_session, 5000)
    response = client.get(f"/api/v1/vouchers/{codes.display(issued.code).lower()}")
    assert response.status_code == 200, response.json
    body = response.json
    assert body == {
        "kind": "money", "treatment": None, "balance": {"amount": 5000, "currency": "GBP"},
        "expires_at": body["expires_at"], "status": "active",
    }
    assert body["expires_at"].endswith("+00:00")
    assert response.headers["Cache-Control"] == "no-store"
    assert issued.code not in response.get_data(as_text=True)


def test_look_up_shows_what_can_be_spent_now(client, db_session, fake_order_ids):
    issued = issue_money(db_session, 5000)
    holds.hold_for_order(session=db_session, order=FakeOrder(fake_order_ids(), 1500),
                         codes=[issued.code])
    body = client.get(f"/api/v1/vouchers/{issued.code}").json
    assert body["balance"] == {"amount": 3500, "currency": "GBP"}


def test_look_up_a_treatment_voucher(client, db_session):
    issued = issue_treatment(db_session, "aquagold")
    body = client.get(f"/api/v1/vouchers/{issued.code}").json
    assert body["kind"] == "treatment" and body["balance"] is None
    assert body["treatment"] == {"slug": "aquagold", "name": "Aquagold"}


def test_expired_voucher_shows_expired(client, db_session):
    issued = issue_money(db_session, 5000, now=utcnow() - timedelta(days=366))
    assert client.get(f"/api/v1/vouchers/{issued.code}").json["status"] == "expired"


@pytest.mark.parametrize("code", ["AAAA-BBBB-CCCC-DDDD", "x", "not a code at all!", "0" * 200])
def test_unknown_codes_are_a_404_problem(client, code):
    response = client.get(f"/api/v1/vouchers/{code}")
    assert response.status_code == 404
    assert response.content_type == "application/problem+json"
    assert response.json["code"] == "voucher_not_found"


def test_known_and_unknown_codes_cost_the_same_queries(client, db_session, count_queries):
    issued = issue_treatment(db_session, "hydra-facial")
    client.get("/api/v1/vouchers/warm-up-the-connection")
    counts = {}
    for label, code in (("known", issued.code), ("unknown", codes.generate_code()),
                        ("malformed", "not-even-close")):
        count_queries.count = 0
        client.get(f"/api/v1/vouchers/{code}")
        counts[label] = count_queries.count
    assert counts["known"] == counts["unknown"] == counts["malformed"], counts


# --- staff ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("method", "path", "body"), [
    ("get", "/admin/vouchers/{code}", None),
    ("post", "/admin/vouchers/{code}/redemptions", {"amount": {"amount": 100, "currency": "GBP"}}),
    ("post", "/admin/vouchers/{code}/void", {"reason": "not allowed"}),
    ("post", "/admin/vouchers/{code}/extend", {"months": 1}),
    ("get", "/admin/reports/voucher-liability", None),
])
@pytest.mark.parametrize("who", ["anonymous", "customer"])
def test_staff_only(client, db_session, customer_headers, method, path, body, who):
    issued = issue_money(db_session)
    headers = customer_headers if who == "customer" else {}
    response = getattr(client, method)(
        "/api/v1" + path.format(code=issued.code), headers=headers, json=body)
    assert response.status_code == (403 if who == "customer" else 401)
    assert assert_ledger_matches(db_session, issued.voucher.id).balance_amount == 5000


def test_staff_sees_the_voucher_and_its_ledger(client, db_session, staff_headers):
    issued = issue_money(db_session, 5000, recipient_name="Ada", recipient_email="ada@example.com")
    body = client.get(f"/api/v1/admin/vouchers/{issued.code}", headers=staff_headers).json
    assert body["code_last4"] == issued.code[-4:] and issued.code not in str(body)
    assert body["initial_value"] == body["balance"] == {"amount": 5000, "currency": "GBP"}
    assert body["recipient_name"] == "Ada"
    assert [(t["kind"], t["amount"]["amount"]) for t in body["ledger"]] == [("issue", 5000)]


def test_money_redemption_at_the_till(client, db_session, staff_headers):
    issued = issue_money(db_session, 5000)
    url = f"/api/v1/admin/vouchers/{codes.display(issued.code)}/redemptions"
    response = client.post(url, headers=staff_headers, json={
        "amount": {"amount": 1999, "currency": "GBP"}, "note": "LED therapy add-on"})
    assert response.status_code == 201, response.json
    assert response.json["voucher"]["balance"]["amount"] == 3001
    assert response.json["transactions"][0]["note"] == "LED therapy add-on"
    assert response.json["transactions"][0]["staff_user_id"] is not None
    too_much = client.post(url, headers=staff_headers, json={
        "amount": {"amount": 3002, "currency": "GBP"}})
    assert too_much.status_code == 409 and too_much.json["code"] == "insufficient_balance"
    assert assert_ledger_matches(db_session, issued.voucher.id).balance_amount == 3001


def test_treatment_redemption_with_a_top_up(client, db_session, staff_headers):
    issued = issue_treatment(db_session, "hydra-facial")
    url = f"/api/v1/admin/vouchers/{issued.code}/redemptions"
    refused = client.post(url, headers=staff_headers, json={"treatment": "meso-botox"})
    assert refused.status_code == 422 and refused.json["code"] == "top_up_required"
    assert refused.json["required_top_up"] == {"amount": 35000 - 17500, "currency": "GBP"}
    response = client.post(url, headers=staff_headers, json={
        "treatment": "meso-botox", "top_up": {"amount": 17500, "currency": "GBP"}})
    assert response.status_code == 201, response.json
    kinds = [(t["kind"], t["top_up"]) for t in response.json["transactions"]]
    assert kinds == [("redemption", None), ("top_up", {"amount": 17500, "currency": "GBP"})]
    assert response.json["voucher"]["status"] == "redeemed"
    again = client.post(url, headers=staff_headers, json={"treatment": "hydra-facial"})
    assert again.status_code == 409 and again.json["code"] == "voucher_redeemed"


@pytest.mark.parametrize(("kind", "body"), [
    ("treatment", {"amount": {"amount": 100, "currency": "GBP"}}),
    ("money", {"treatment": "hydra-facial"}),
    ("money", {}),
    ("money", {"amount": {"amount": 100, "currency": "GBP"}, "treatment": "aquagold"}),
])
def test_redemption_fields_must_fit_the_kind(client, db_session, staff_headers, kind, body):
    issued = issue_treatment(db_session) if kind == "treatment" else issue_money(db_session)
    response = client.post(f"/api/v1/admin/vouchers/{issued.code}/redemptions",
                           headers=staff_headers, json=body)
    assert response.status_code == 422
    assert response.json["errors"]


def test_redemption_of_an_unknown_code(client, staff_headers):
    response = client.post(f"/api/v1/admin/vouchers/{codes.generate_code()}/redemptions",
                           headers=staff_headers, json={"treatment": "aquagold"})
    assert response.status_code == 404 and response.json["code"] == "voucher_not_found"


def test_redemption_replays_with_the_same_idempotency_key(client, db_session, staff_headers):
    issued = issue_money(db_session, 5000)
    url = f"/api/v1/admin/vouchers/{issued.code}/redemptions"
    headers = {**staff_headers, "Idempotency-Key": "till-2-receipt-0042"}
    body = {"amount": {"amount": 1000, "currency": "GBP"}, "note": "peel"}
    first = client.post(url, headers=headers, json=body)
    second = client.post(url, headers=headers, json=body)
    assert first.status_code == second.status_code == 201
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert assert_ledger_matches(db_session, issued.voucher.id).balance_amount == 4000


def test_void_with_a_reason(client, db_session, staff_headers):
    issued = issue_money(db_session, 5000)
    url = f"/api/v1/admin/vouchers/{issued.code}/void"
    assert client.post(url, headers=staff_headers, json={}).status_code == 422
    response = client.post(url, headers=staff_headers, json={"reason": "refunded by phone"})
    assert response.status_code == 200, response.json
    assert response.json["status"] == "void" and response.json["balance"]["amount"] == 0
    assert response.json["ledger"][-1]["note"] == "refunded by phone"
    assert client.get(f"/api/v1/vouchers/{issued.code}").json["status"] == "void"
    again = client.post(url, headers=staff_headers, json={"reason": "twice"})
    assert again.status_code == 409


def test_extend_by_months_or_to_a_date(client, db_session, staff_headers):
    issued = issue_money(db_session, 5000, now=utcnow() - timedelta(days=380))
    url = f"/api/v1/admin/vouchers/{issued.code}/extend"
    assert client.post(url, headers=staff_headers, json={}).status_code == 422
    assert client.post(url, headers=staff_headers,
                       json={"months": 2, "expires_at": "2030-01-01T00:00:00Z"}).status_code == 422
    response = client.post(url, headers=staff_headers, json={"months": 2})
    assert response.status_code == 200, response.json
    assert response.json["status"] == "active"
    response = client.post(url, headers=staff_headers,
                           json={"expires_at": "2031-06-30T23:59:59+00:00", "note": "goodwill"})
    assert response.json["expires_at"].startswith("2031-06-30T23:59:59")
    assert response.json["ledger"][-1]["kind"] == "extension"
    assert "goodwill" in response.json["ledger"][-1]["note"]
    earlier = client.post(url, headers=staff_headers, json={"expires_at": "2031-01-01T00:00:00Z"})
    assert earlier.status_code == 422


def test_staff_actions_are_audited(client, db_session, staff_headers):
    from shop.audit.models import AuditEntry

    issued = issue_money(db_session, 5000)
    client.post(f"/api/v1/admin/vouchers/{issued.code}/redemptions", headers=staff_headers,
                json={"amount": {"amount": 700, "currency": "GBP"}})
    entry = db_session.query(AuditEntry).filter_by(
        entity="voucher", entity_id=str(issued.voucher.id)).one()
    assert entry.action == "voucher.redeem"
    assert (entry.before["balance_amount"], entry.after["balance_amount"]) == (5000, 4300)


# --- liability report ----------------------------------------------------------------------

def _outstanding(body: dict, kind: str) -> int:
    return next((row["outstanding"]["amount"] for row in body["by_kind"] if row["kind"] == kind), 0)


def test_liability_report_by_kind_and_month(client, db_session, staff_headers):
    url = "/api/v1/admin/reports/voucher-liability"
    before = client.get(url, headers=staff_headers).json
    money = issue_money(db_session, 5000)
    issue_treatment(db_session, "hydra-facial")
    issue_money(db_session, 2000)
    void = issue_money(db_session, 9000)
    db_session.get(Voucher, void.voucher.id).status = "void"
    issue_money(db_session, 7000, now=utcnow() - timedelta(days=400))  # expired: owes nothing
    db_session.flush()
    after = client.get(url, headers=staff_headers).json
    assert _outstanding(after, "money") - _outstanding(before, "money") == 5000 + 2000
    assert _outstanding(after, "treatment") - _outstanding(before, "treatment") == 17500
    month = money.voucher.expires_at.strftime("%Y-%m")
    rows = [r for r in after["rows"] if r["expiry_month"] == month]
    assert {r["kind"] for r in rows} == {"money", "treatment"}
    assert sum(t["outstanding"]["amount"] for t in after["totals"]) == sum(
        r["outstanding"]["amount"] for r in after["rows"])


def test_liability_report_by_source(client, db_session, staff_headers):
    url = "/api/v1/admin/reports/voucher-liability"

    def by_source(body: dict) -> dict:
        return {row["source"]: row["outstanding"]["amount"] for row in body["by_source"]}

    before = by_source(client.get(url, headers=staff_headers).json)
    issue_money(db_session, 3000, source="store_credit")
    issue_money(db_session, 1200)  # no order line: made outside the shop
    issue_money(db_session, 800, source="purchase")
    db_session.flush()
    after = by_source(client.get(url, headers=staff_headers).json)
    changed = {source: after.get(source, 0) - before.get(source, 0) for source in after}
    assert changed == {"store_credit": 3000, "clinic_gift": 1200, "purchase": 800}


def test_liability_report_as_csv(client, db_session, staff_headers):
    issue_money(db_session, 4200)
    for kwargs in ({"query_string": {"format": "csv"}}, {"headers": {"Accept": "text/csv"}}):
        headers = {**staff_headers, **kwargs.get("headers", {})}
        response = client.get("/api/v1/admin/reports/voucher-liability", headers=headers,
                              query_string=kwargs.get("query_string"))
        assert response.status_code == 200
        assert response.mimetype == "text/csv"
        rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
        assert set(rows[0]) == {"kind", "source", "expiry_month", "vouchers",
                                "outstanding.amount", "outstanding.currency"}
        assert any(row["kind"] == "money" and int(row["outstanding.amount"]) >= 4200
                   for row in rows)


# --- resend ----------------------------------------------------------------------------------

def _outbox_to(session, address):
    from shop.notifications.models import OutboxEmail

    return session.query(OutboxEmail).filter_by(to=address).all()


def test_buyer_resends_a_voucher_email(client, db_session, customer, customer_headers):
    order = make_order(db_session, user=customer)
    issued = issue_money(db_session, 5000, order_id=order.id, recipient_email="gift@example.com")
    url = f"/api/v1/orders/{order.id}/vouchers/{issued.voucher.id}/resend"
    response = client.post(url, headers=customer_headers)
    assert response.status_code == 202, response.json
    assert response.json == {"voucher_id": issued.voucher.id, "sent_to": "gift@example.com"}
    [email] = _outbox_to(db_session, "gift@example.com")
    content = sealing.content_of(email)  # sealed: the code is only in the opened content
    assert email.sealed and codes.display(issued.code) not in email.text
    assert codes.display(issued.code) in content.text and content.attachments


def test_guest_resends_with_the_order_token(client, db_session):
    order = make_order(db_session, token="guest-order-token-123")
    issued = issue_money(db_session, 2500, order_id=order.id, purchaser_email="guest@example.com")
    url = f"/api/v1/orders/{order.id}/vouchers/{issued.voucher.id}/resend"
    assert client.post(url, headers={"X-Order-Token": "guest-order-token-123"}).status_code == 202
    assert len(_outbox_to(db_session, "guest@example.com")) == 1


@pytest.mark.parametrize("who", ["stranger", "wrong-token", "other-order"])
def test_nobody_else_can_resend(client, db_session, customer_headers, who):
    order = make_order(db_session, token="the-right-token-456")
    other = make_order(db_session, token="another-token-789")
    issued = issue_money(db_session, 2500, order_id=order.id, recipient_email="nope@example.com")
    target = other if who == "other-order" else order
    headers = {"stranger": customer_headers, "wrong-token": {"X-Order-Token": "guess"},
               "other-order": {"X-Order-Token": "another-token-789"}}[who]
    response = client.post(f"/api/v1/orders/{target.id}/vouchers/{issued.voucher.id}/resend",
                           headers=headers)
    assert response.status_code == 404
    assert _outbox_to(db_session, "nope@example.com") == []


def test_seeding_again_changes_nothing(db_session):
    from shop.cli import SEED_DIR
    from shop.vouchers.seed import load_voucher_catalogue

    assert load_voucher_catalogue(session=db_session, seed_dir=SEED_DIR) == 0
