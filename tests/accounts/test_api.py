"""Accounts over HTTP: the flows the web shop and the mobile app run."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlalchemy import select

from shop.accounts import export
from shop.accounts.auth import hash_token, issue_token
from shop.accounts.models import AuthToken, TokenFamily, User
from shop.db import utcnow
from tests.fixtures.auth import make_user

PASSWORD = "violet kettle harbour"
TOKEN_KEYS = {"access_token", "refresh_token", "token_type", "expires_in"}


def assert_problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.content_type == "application/problem+json"
    assert response.json["code"] == code
    return response.json


def register(client, email="ann@example.com", password=PASSWORD, name="Ann"):
    return client.post("/api/v1/auth/register",
                       json={"email": email, "password": password, "name": name})


def login(client, email="ann@example.com", password=PASSWORD):
    return client.post("/api/v1/auth/token", json={"email": email, "password": password})


def bearer(tokens: dict) -> dict:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


# --- register, sign in, refresh, sign out -------------------------------------------------

def test_register_returns_tokens_and_the_profile(client):
    response = register(client, email="New.Customer@Example.com")
    assert response.status_code == 201, response.json
    body = response.json
    assert set(body) >= TOKEN_KEYS
    assert body["token_type"] == "Bearer" and body["expires_in"] == 900
    assert body["user"]["email"] == "new.customer@example.com"
    assert body["user"]["role"] == "customer"
    assert response.headers["Cache-Control"] == "no-store"
    me = client.get("/api/v1/me", headers=bearer(body))
    assert me.status_code == 200 and me.json["id"] == body["user"]["id"]


def test_register_refuses_a_taken_email_without_saying_more(client):
    register(client, email="taken@example.com")
    body = assert_problem(register(client, email="TAKEN@example.com"), 409, "email_unavailable")
    assert list(body["errors"]) == ["email"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"email": "not-an-email", "password": PASSWORD, "name": "A"}, "email"),
        ({"email": "a@example.com", "password": "short", "name": "A"}, "password"),
        ({"email": "a@example.com", "password": "1234567890", "name": "A"}, "password"),
        ({"email": "a@example.com", "password": PASSWORD}, "name"),
        ({"email": "a@example.com", "password": PASSWORD, "name": "   "}, "name"),
        ({"email": "a@example.com", "password": PASSWORD, "name": "A", "role": "admin"}, "role"),
    ],
)
def test_register_validation(client, payload, field):
    body = assert_problem(client.post("/api/v1/auth/register", json=payload), 422,
                          "weak_password" if field == "password" else "validation_error")
    assert field in body["errors"]


def test_sign_in_returns_the_token_response(client):
    register(client)
    response = login(client, email=" ANN@example.com")
    assert response.status_code == 200
    assert set(response.json) == TOKEN_KEYS
    assert response.json["token_type"] == "Bearer" and response.json["expires_in"] == 900
    assert response.headers["Cache-Control"] == "no-store"


def test_failed_sign_in_does_not_reveal_whether_the_account_exists(client):
    register(client)
    wrong = assert_problem(login(client, password="not the password"), 401, "invalid_credentials")
    unknown = assert_problem(login(client, email="nobody@example.com"), 401,
                             "invalid_credentials")
    assert wrong == unknown


def test_staff_sign_in_through_the_same_endpoint(client, db_session):
    make_user(db_session, role="staff", email="till@example.com", password=PASSWORD)
    tokens = login(client, email="till@example.com").json
    assert client.get("/api/v1/me", headers=bearer(tokens)).json["role"] == "staff"


def test_refresh_rotates_and_reuse_revokes_the_family(client, db_session):
    first = register(client).json
    rotated = client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert rotated.status_code == 200 and set(rotated.json) == TOKEN_KEYS
    assert rotated.json["refresh_token"] != first["refresh_token"]
    assert client.get("/api/v1/me", headers=bearer(rotated.json)).status_code == 200

    replay = client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert_problem(replay, 401, "refresh_token_reused")
    # The thief's replay killed the legitimate client's tokens too: both must sign in again.
    assert_problem(client.get("/api/v1/me", headers=bearer(rotated.json)), 401, "invalid_token")
    again = client.post("/api/v1/auth/refresh",
                        json={"refresh_token": rotated.json["refresh_token"]})
    assert_problem(again, 401, "invalid_refresh_token")
    family = db_session.scalars(select(TokenFamily).order_by(TokenFamily.id.desc())).first()
    assert family.revoked_reason == "refresh_token_reuse"


def test_logout_revokes_the_current_session_only(client):
    first = register(client).json
    second = login(client).json
    response = client.post("/api/v1/auth/logout", headers=bearer(first))
    assert response.status_code == 204
    assert_problem(client.get("/api/v1/me", headers=bearer(first)), 401, "invalid_token")
    assert_problem(client.post("/api/v1/auth/refresh",
                               json={"refresh_token": first["refresh_token"]}),
                   401, "invalid_refresh_token")
    assert client.get("/api/v1/me", headers=bearer(second)).status_code == 200


# --- bad tokens ---------------------------------------------------------------------------

def test_tampered_token_is_401(client):
    tokens = register(client).json
    value = tokens["access_token"]
    tampered = value[:-1] + ("A" if value[-1] != "A" else "B")
    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {tampered}"})
    assert_problem(response, 401, "invalid_token")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_expired_access_token_is_401(client, db_session, customer):
    family = TokenFamily(user=customer)
    db_session.add(family)
    expired = issue_token(session=db_session, family=family, kind="access",
                          lifetime=timedelta(seconds=-1))
    db_session.flush()
    assert_problem(client.get("/api/v1/me", headers={"Authorization": f"Bearer {expired}"}),
                   401, "invalid_token")


def test_token_moved_past_its_expiry_is_401(client, db_session):
    tokens = register(client).json
    assert client.get("/api/v1/me", headers=bearer(tokens)).status_code == 200
    row = db_session.scalars(select(AuthToken).where(
        AuthToken.token_hash == hash_token(tokens["access_token"]))).one()
    row.expires_at = utcnow() - timedelta(seconds=1)
    db_session.flush()
    assert_problem(client.get("/api/v1/me", headers=bearer(tokens)), 401, "invalid_token")


@pytest.mark.parametrize("header", [None, "", "Basic YWxhZGRpbjpvcGVu", "Bearer", "Bearer   "])
def test_missing_or_non_bearer_credentials_are_401(client, header):
    headers = {"Authorization": header} if header is not None else {}
    response = client.get("/api/v1/me", headers=headers)
    assert_problem(response, 401, "authentication_required")
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_refresh_token_is_not_an_access_token(client):
    tokens = register(client).json
    response = client.get("/api/v1/me",
                          headers={"Authorization": f"Bearer {tokens['refresh_token']}"})
    assert_problem(response, 401, "invalid_token")


# --- profile, password, deletion, export --------------------------------------------------

def test_profile_update_and_default_address(client):
    tokens = register(client).json
    headers = bearer(tokens)
    first = client.post("/api/v1/me/addresses", headers=headers, json={
        "line1": "1 Harley St", "city": "London", "postcode": "w1g9qd"}).json
    second = client.post("/api/v1/me/addresses", headers=headers, json={
        "name": "Work", "line1": "2 Strand", "city": "London", "postcode": "WC2N 5DN"}).json
    response = client.patch("/api/v1/me", headers=headers, json={
        "name": "Ann Smith", "marketing_consent": True, "default_address_id": second["id"]})
    assert response.status_code == 200, response.json
    body = response.json
    assert body["name"] == "Ann Smith" and body["marketing_consent"] is True
    assert body["marketing_consent_at"] is not None
    assert body["default_address"]["id"] == second["id"]
    listed = client.get("/api/v1/me/addresses", headers=headers).json["items"]
    assert [(a["id"], a["is_default"]) for a in listed] == [(first["id"], False),
                                                            (second["id"], True)]
    cleared = client.patch("/api/v1/me", headers=headers, json={"default_address_id": None})
    assert cleared.json["default_address"] is None
    refused = client.patch("/api/v1/me", headers=headers, json={"email": "x@example.com"})
    assert_problem(refused, 422, "validation_error")


def test_address_book_crud(client, customer_headers, staff_headers):
    created = client.post("/api/v1/me/addresses", headers=customer_headers, json={
        "name": "Ann", "line1": "10 Downing St", "city": "London", "postcode": "sw1a2aa",
        "country": "gb", "phone": "+44 20 7946 0000"})
    assert created.status_code == 201, created.json
    address = created.json
    assert (address["postcode"], address["country"], address["is_default"]) == (
        "SW1A 2AA", "GB", True)
    url = f"/api/v1/me/addresses/{address['id']}"
    assert client.get(url, headers=customer_headers).json == address
    patched = client.patch(url, headers=customer_headers, json={"line2": "Flat 1"})
    assert patched.status_code == 200 and patched.json["line2"] == "Flat 1"
    assert_problem(client.get(url, headers=staff_headers), 404, "address_not_found")
    assert client.delete(url, headers=customer_headers).status_code == 204
    assert_problem(client.get(url, headers=customer_headers), 404, "address_not_found")


def test_retried_address_creation_with_an_idempotency_key_adds_one_address(
    client, customer_headers
):
    headers = {**customer_headers, "Idempotency-Key": "address-1"}
    payload = {"line1": "1 Lane", "city": "Bath", "postcode": "BA1 1AA"}
    first = client.post("/api/v1/me/addresses", headers=headers, json=payload)
    again = client.post("/api/v1/me/addresses", headers=headers, json=payload)
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true" and again.json == first.json
    listed = client.get("/api/v1/me/addresses", headers=customer_headers).json["items"]
    assert len(listed) == 1


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"line1": "1 Lane", "city": "Bath", "postcode": "BA1"}, "postcode"),
        ({"line1": "1 Lane", "city": "Bath", "postcode": "BA1 1AA", "country": "ZZ"}, "country"),
        ({"line1": "", "city": "Bath", "postcode": "BA1 1AA"}, "line1"),
        ({"city": "Bath", "postcode": "BA1 1AA"}, "line1"),
    ],
)
def test_invalid_addresses_are_422_by_field(client, customer_headers, payload, field):
    response = client.post("/api/v1/me/addresses", headers=customer_headers, json=payload)
    assert response.status_code == 422
    assert list(response.json["errors"]) == [field]


def test_password_change_revokes_other_sessions(client):
    here = register(client).json
    elsewhere = login(client).json
    response = client.post("/api/v1/me/password", headers=bearer(here), json={
        "current_password": PASSWORD, "new_password": "another long passphrase"})
    assert response.status_code == 200 and response.json == {"sessions_revoked": 1}
    assert client.get("/api/v1/me", headers=bearer(here)).status_code == 200
    assert_problem(client.get("/api/v1/me", headers=bearer(elsewhere)), 401, "invalid_token")
    assert_problem(client.post("/api/v1/auth/refresh",
                               json={"refresh_token": elsewhere["refresh_token"]}),
                   401, "invalid_refresh_token")
    assert_problem(login(client), 401, "invalid_credentials")
    assert login(client, password="another long passphrase").status_code == 200


def test_password_change_with_the_wrong_current_password(client):
    tokens = register(client).json
    response = client.post("/api/v1/me/password", headers=bearer(tokens), json={
        "current_password": "not it at all", "new_password": "another long passphrase"})
    assert_problem(response, 401, "invalid_current_password")
    assert client.get("/api/v1/me", headers=bearer(tokens)).status_code == 200


def test_delete_account_anonymises_and_signs_out(client, db_session):
    tokens = register(client, email="leaving@example.com", name="Lee Ving").json
    headers = bearer(tokens)
    client.post("/api/v1/me/addresses", headers=headers, json={
        "line1": "1 Lane", "city": "Bath", "postcode": "BA1 1AA"})
    assert client.delete("/api/v1/me", headers=headers).status_code == 204
    assert_problem(client.get("/api/v1/me", headers=headers), 401, "invalid_token")
    assert_problem(login(client, email="leaving@example.com"), 401, "invalid_credentials")
    user = db_session.get(User, tokens["user"]["id"])
    db_session.refresh(user)
    assert user.email == f"deleted-{user.id}@invalid.example" and user.name == ""
    assert user.addresses == [] and user.deleted_at is not None


def test_staff_cannot_delete_themselves_through_me(client, staff_headers):
    assert_problem(client.delete("/api/v1/me", headers=staff_headers), 409, "staff_account")


def test_export_contains_profile_addresses_sessions_and_domain_sections(client, monkeypatch):
    monkeypatch.setattr(export, "_sections", {})
    export.register_section("orders", lambda *, session, user: [{"email": user.email}])
    tokens = register(client, email="export@example.com").json
    headers = bearer(tokens)
    client.post("/api/v1/me/addresses", headers=headers, json={
        "line1": "1 Lane", "city": "Bath", "postcode": "BA1 1AA"})
    response = client.get("/api/v1/me/export", headers=headers)
    assert response.status_code == 200
    body = response.json
    assert list(body) == ["generated_at", "profile", "addresses", "sessions", "orders"]
    assert body["profile"]["email"] == "export@example.com"
    assert [a["postcode"] for a in body["addresses"]] == ["BA1 1AA"]
    assert len(body["sessions"]) == 1 and body["sessions"][0]["revoked_at"] is None
    assert body["orders"] == [{"email": "export@example.com"}]
    assert response.headers["Cache-Control"] == "no-store"
    text = response.get_data(as_text=True)
    assert "argon2" not in text and "password" not in text and "token" not in text


# --- staff administration -----------------------------------------------------------------

STAFF_ENDPOINTS = [("get", "/api/v1/admin/staff"), ("post", "/api/v1/admin/staff"),
                   ("patch", "/api/v1/admin/staff/1")]


@pytest.mark.parametrize(("method", "url"), STAFF_ENDPOINTS)
def test_staff_endpoints_need_an_admin(client, customer_headers, staff_headers, method, url):
    call = getattr(client, method)
    body = {} if method != "get" else None
    assert_problem(call(url, json=body), 401, "authentication_required")
    assert_problem(call(url, json=body, headers=customer_headers), 403, "insufficient_role")
    assert_problem(call(url, json=body, headers=staff_headers), 403, "insufficient_role")


def test_admin_manages_staff_accounts(client, db_session, admin_headers):
    created = client.post("/api/v1/admin/staff", headers=admin_headers, json={
        "email": "New.Staff@example.com", "name": "Nat", "role": "staff", "password": PASSWORD})
    assert created.status_code == 201, created.json
    member = created.json
    assert member["email"] == "new.staff@example.com" and member["disabled"] is False
    assert "password" not in member and "password_hash" not in member
    listed = client.get("/api/v1/admin/staff?per_page=100", headers=admin_headers).json
    assert member["id"] in [item["id"] for item in listed["items"]]
    assert all(item["role"] in ("staff", "admin") for item in listed["items"])

    tokens = login(client, email="new.staff@example.com").json
    promoted = client.patch(f"/api/v1/admin/staff/{member['id']}", headers=admin_headers,
                            json={"role": "admin"})
    assert promoted.json["role"] == "admin"
    assert client.get("/api/v1/admin/staff", headers=bearer(tokens)).status_code == 200
    disabled = client.patch(f"/api/v1/admin/staff/{member['id']}", headers=admin_headers,
                            json={"disabled": True})
    assert disabled.json["disabled"] is True
    assert_problem(client.get("/api/v1/me", headers=bearer(tokens)), 401, "invalid_token")
    assert_problem(login(client, email="new.staff@example.com"), 401, "invalid_credentials")


def test_admin_staff_validation(client, db_session, admin_headers):
    customer = make_user(db_session)
    assert_problem(client.patch(f"/api/v1/admin/staff/{customer.id}", headers=admin_headers,
                                json={"role": "staff"}), 404, "staff_not_found")
    bad_role = client.post("/api/v1/admin/staff", headers=admin_headers, json={
        "email": "x@example.com", "role": "customer", "password": PASSWORD})
    assert bad_role.status_code == 422 and "role" in bad_role.json["errors"]
    assert_problem(client.post("/api/v1/admin/staff", headers=admin_headers, json={
        "email": customer.email, "role": "staff", "password": PASSWORD}), 409, "email_taken")


# --- documentation ------------------------------------------------------------------------

def test_openapi_shows_bearer_security_on_protected_operations_only(client):
    paths = client.get("/api/v1/openapi.json").json["paths"]
    assert "security" not in paths["/api/v1/auth/token"]["post"]
    assert "security" not in paths["/api/v1/auth/register"]["post"]
    assert "security" not in paths["/api/v1/auth/refresh"]["post"]
    for path, method in [("/api/v1/me", "get"), ("/api/v1/me", "delete"),
                         ("/api/v1/auth/logout", "post"), ("/api/v1/admin/staff", "post"),
                         ("/api/v1/me/addresses/{address_id}", "patch")]:
        assert paths[path][method]["security"] == [{"bearerAuth": []}], (path, method)
    assert paths["/api/v1/me"]["get"]["summary"] == "The signed-in account's profile."


# --- secrets never leak -------------------------------------------------------------------

def test_no_password_or_token_appears_in_logs_or_responses(client, caplog):
    shop_logger = logging.getLogger("shop")
    shop_logger.addHandler(caplog.handler)
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="shop")
    new_password = "second secret passphrase"
    try:
        responses = [register(client, email="quiet@example.com")]
        first = responses[0].json
        responses.append(login(client, email="quiet@example.com", password="wrong passphrase!"))
        responses.append(login(client, email="quiet@example.com"))
        second = responses[-1].json
        responses.append(client.post("/api/v1/auth/refresh",
                                     json={"refresh_token": first["refresh_token"]}))
        rotated = responses[-1].json
        responses.append(client.post("/api/v1/auth/refresh",
                                     json={"refresh_token": first["refresh_token"]}))
        responses.append(client.post("/api/v1/me/password", headers=bearer(second), json={
            "current_password": PASSWORD, "new_password": new_password}))
        responses.append(client.get("/api/v1/me", headers=bearer(second)))
        responses.append(client.get("/api/v1/me/export", headers=bearer(second)))
        responses.append(client.post("/api/v1/auth/logout", headers=bearer(second)))
    finally:
        shop_logger.removeHandler(caplog.handler)

    secrets = {PASSWORD, "wrong passphrase!", new_password}
    for tokens in (first, second, rotated):
        secrets |= {tokens["access_token"], tokens["refresh_token"]}
    assert caplog.records, "the flow logs something, so the check means something"
    logged = "\n".join(
        f"{record.getMessage()} {record.__dict__}" for record in caplog.records
    )
    for secret in secrets:
        assert secret not in logged
    assert [r.status_code for r in responses] == [201, 401, 200, 200, 401, 200, 200, 200, 204]
    for response in responses:
        text = response.get_data(as_text=True)
        assert "$argon2" not in text and "password_hash" not in text and PASSWORD not in text
        assert new_password not in text
