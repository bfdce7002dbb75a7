"""A signed-in customer's vouchers: those emailed to the account's verified address, listed
without their codes and applied to the cart by id; nobody else's."""

from __future__ import annotations

from sqlalchemy import select, text

from shop.db import utcnow
from shop.vouchers import wallet
from shop.vouchers.models import Voucher
from tests.carts.factories import make_variant
from tests.fixtures.auth import bearer_for, make_user
from tests.vouchers.conftest import issue_money, issue_treatment

MINE = "/api/v1/me/vouchers"


def account(db_session, email: str, *, verified: bool = True) -> dict:
    user = make_user(db_session, email=email)
    user.email_verified_at = utcnow() if verified else None
    db_session.flush()
    return bearer_for(db_session, user)


def cart_with_serum(client, db_session, headers) -> str:
    cart_id = client.post("/api/v1/carts", headers=headers).json["id"]
    variant = make_variant(db_session, price=4000)
    added = client.post(f"/api/v1/carts/{cart_id}/items", headers=headers,
                        json={"sku": variant.sku, "quantity": 1})
    assert added.status_code in (200, 201), added.json
    return cart_id


def apply(client, cart_id: str, headers: dict, **body):
    return client.post(f"/api/v1/carts/{cart_id}/vouchers", json=body, headers=headers)


def test_the_vouchers_emailed_to_my_address_are_listed_without_their_codes(client, db_session):
    headers = account(db_session, "Wallet.Ada@example.com")
    gift = issue_money(db_session, 2500, recipient_email="wallet.ada@EXAMPLE.com",
                       purchaser_email="bob@example.com", message="Happy birthday")
    for_me = issue_treatment(db_session, purchaser_email="wallet.ada@example.com")
    issue_money(db_session, 4000, recipient_email="carol@example.com",
                purchaser_email="wallet.ada@example.com")  # bought for Carol: hers
    void = issue_money(db_session, 1000, recipient_email="wallet.ada@example.com")
    void.voucher.status = "void"
    db_session.flush()

    body = client.get(MINE, headers=headers).json
    assert body["email_verified"] is True
    assert sorted(item["id"] for item in body["items"]) == sorted(
        [gift.voucher.id, for_me.voucher.id])
    shown = next(item for item in body["items"] if item["id"] == gift.voucher.id)
    assert (shown["code_last4"], shown["available"], shown["message"], shown["source"]) == (
        gift.code[-4:], {"amount": 2500, "currency": "GBP"}, "Happy birthday", "clinic_gift")
    assert gift.code not in str(body) and "bob@example.com" not in str(body)


def test_an_unverified_address_shows_nothing_yet(client, db_session):
    headers = account(db_session, "unverified.ada@example.com", verified=False)
    issue_money(db_session, 2500, recipient_email="unverified.ada@example.com")
    assert client.get(MINE, headers=headers).json == {"email_verified": False, "items": []}
    assert client.get(MINE).status_code == 401


def test_my_voucher_is_applied_by_id_and_nobody_elses(client, db_session):
    headers = account(db_session, "apply.ada@example.com")
    mine = issue_money(db_session, 2500, recipient_email="apply.ada@example.com")
    theirs = issue_money(db_session, 2500, recipient_email="someone.else@example.com")
    cart_id = cart_with_serum(client, db_session, headers)

    applied = apply(client, cart_id, headers, voucher_id=mine.voucher.id)
    assert applied.status_code == 200, applied.json
    assert [row["code_last4"] for row in applied.json["vouchers"]["applied"]] == [
        mine.code[-4:]]
    assert applied.json["vouchers"]["amount_due"]["amount"] == 1500

    refused = apply(client, cart_id, headers, voucher_id=theirs.voucher.id)
    unknown = apply(client, cart_id, headers, voucher_id=2**31 - 1)
    for response in (refused, unknown):  # one answer: no telling whether it exists
        assert response.status_code == 422
        assert response.json["code"] == "voucher_not_usable"
        assert "voucher_id" in response.json["errors"]
    guest_cart = client.post("/api/v1/carts").json["id"]
    assert apply(client, guest_cart, {}, voucher_id=mine.voucher.id).status_code == 422


def test_send_a_code_or_an_id(client, db_session):
    headers = account(db_session, "either.ada@example.com")
    mine = issue_money(db_session, 2500, recipient_email="either.ada@example.com")
    cart_id = cart_with_serum(client, db_session, headers)
    for body in ({}, {"code": mine.code, "voucher_id": mine.voucher.id}, {"voucher_id": 0}):
        response = apply(client, cart_id, headers, **body)
        assert response.status_code == 422, (body, response.json)
    assert apply(client, cart_id, headers, code=mine.code).status_code == 200


def test_my_vouchers_are_in_my_data_export_and_stay_when_i_leave(client, db_session):
    headers = account(db_session, "export.ada@example.com")
    gift = issue_money(db_session, 2500, recipient_name="Ada", message="For you",
                       recipient_email="export.ada@example.com")
    [exported] = client.get("/api/v1/me/export", headers=headers).json["vouchers"]
    assert (exported["code_last4"], exported["recipient_name"], exported["message"]) == (
        gift.code[-4:], "Ada", "For you")
    assert exported["balance"] == {"amount": 2500, "currency": "GBP"}
    assert gift.code not in str(exported)
    assert client.delete("/api/v1/me", headers=headers).status_code == 204
    db_session.refresh(gift.voucher)
    assert gift.voucher.status == "active" and gift.voucher.balance_amount == 2500


def test_the_wallet_reads_the_holder_email_index(db_session):
    """The address match is the expression the index was made on (migration 0039), so the
    database can use it: the planner is told to avoid a table scan, and the plan names it."""
    user = make_user(db_session, email="indexed@example.com")
    statement = select(Voucher).where(wallet._addressed_to(user))
    compiled = statement.compile(db_session.get_bind(), compile_kwargs={"literal_binds": True})
    if db_session.get_bind().dialect.name == "postgresql":
        db_session.execute(text("SET LOCAL enable_seqscan = off"))
        plan = db_session.execute(text(f"EXPLAIN {compiled}")).scalars().all()
    else:
        plan = [row[-1] for row in db_session.execute(text(f"EXPLAIN QUERY PLAN {compiled}"))]
    assert any("ix_vouchers_holder_email" in line for line in plan), plan
