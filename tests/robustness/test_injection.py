"""SQL injection and hostile text in every text parameter of every GET operation the OpenAPI
document describes (query and path, signed in as an admin so each request reaches its view):
never a 5xx, always a JSON (or CSV) answer, and every table and row still there afterwards.
Nothing here lists the operations: one added tomorrow is covered tomorrow."""

from __future__ import annotations

import time
from urllib.parse import quote

import pytest
from sqlalchemy import func, inspect, select

from shop.accounts.models import User
from shop.catalogue.models import Product
from shop.db import Base
from tests.robustness.spec import operations

PAYLOADS = [
    "' OR '1'='1",
    "1; DROP TABLE products;--",
    "x'; DELETE FROM users; --",
    "%' --",
    "%",
    "_",
    "\\",
    "') OR 1=1 UNION SELECT password_hash FROM users --",
    "'; SELECT pg_sleep(10); --",
    "Crème brûlée ☃ 🧴 \u202eevil ﷽",
    "nul\x00byte",
    "x" * 10_000,
]
# Raw bytes that are not UTF-8 at all, exactly as a client may send them.
RAW_QUERY = "%ff%fe%00"
RAW_PATH = "%ff%fe"
NUL = "Must not contain NUL (\\u0000) characters."
SURROGATE = "Must not contain unpaired surrogates (\\ud800-\\udfff): not valid Unicode."
ANSWER_TYPES = ("application/json", "application/problem+json", "text/csv")
SLOW_SECONDS = 5


def _row_counts(session) -> tuple[int, int]:
    return (session.scalar(select(func.count()).select_from(Product)),
            session.scalar(select(func.count()).select_from(User)))


def test_hostile_text_in_every_get_parameter_is_harmless(
    client, db_session, openapi_document, admin_token,
):
    tables = set(inspect(db_session.connection()).get_table_names())
    assert {table.name for table in Base.metadata.sorted_tables} <= tables
    counts = _row_counts(db_session)
    failures, sent, covered = [], 0, set()
    for operation in operations(openapi_document):
        if operation.method != "GET":
            continue
        headers = admin_token if operation.secured else {}
        for parameter in operation.text_parameters("query"):
            name = parameter["name"]
            covered.add(f"{operation} ?{name}")
            attempts = [{"query_string": {name: payload}} for payload in PAYLOADS]
            attempts.append({"query_string": f"{name}={RAW_QUERY}"})
            for attempt in attempts:
                started = time.monotonic()
                response = client.get(operation.url(), headers=headers, **attempt)
                sent += 1
                _check(response, operation, name, attempt["query_string"], failures, started)
        for parameter in operation.text_parameters("path"):
            name = parameter["name"]
            covered.add(f"{operation} {{{name}}}")
            for value in [quote(payload, safe="") for payload in PAYLOADS] + [RAW_PATH]:
                started = time.monotonic()
                response = client.get(operation.url(**{name: value}), headers=headers)
                sent += 1
                _check(response, operation, name, value, failures, started)
    assert not failures, "\n".join(failures)
    assert sent > 300 and len(covered) > 20, (sent, sorted(covered))  # the walk really ran
    # Nothing was dropped, deleted or added by any of it.
    assert set(inspect(db_session.connection()).get_table_names()) == tables
    assert _row_counts(db_session) == counts


def _check(response, operation, name, sent, failures: list[str], started: float) -> None:
    shown = repr(sent)[:60]
    if time.monotonic() - started > SLOW_SECONDS:  # pg_sleep(10) ran: the text reached SQL
        failures.append(f"{operation} {name}={shown}: took {time.monotonic() - started:.1f}s")
    if response.status_code >= 500:
        failures.append(f"{operation} {name}={shown}: {response.status_code} "
                        f"{response.get_data(as_text=True)[:200]}")
    elif not response.content_type.startswith(ANSWER_TYPES):
        failures.append(f"{operation} {name}={shown}: content type {response.content_type}")


def test_nul_in_a_json_body_is_a_422_naming_the_field(client):
    response = client.post("/api/v1/auth/register", json={
        "email": "nul@example.com", "password": "long enough password", "name": "Ann\x00"})
    assert response.status_code == 422, response.text
    assert response.json["errors"] == {"name": ["Must not contain NUL (\\u0000) characters."]}
    cart = client.post("/api/v1/carts").json["id"]
    nested = client.post(f"/api/v1/carts/{cart}/checkout", json={
        "email": "nul@example.com", "shipping_method": "uk-standard",
        "shipping_address": {"line1": "1 High St\x00", "city": "London"}})
    assert nested.status_code == 422
    assert list(nested.json["errors"]) == ["shipping_address"]
    assert client.post("/api/v1/auth/token", json={
        "email": "nul@example.com", "password": "long enough password"}).status_code == 401


def test_a_lone_surrogate_in_a_json_body_is_a_422_naming_the_field(client, customer_headers):
    """JSON's \\ud800 escape decodes to a string no UTF-8 encoder takes (the database
    drivers', Argon2's, HMAC's): it was a 500 wherever the text went."""
    register = client.post("/api/v1/auth/register", data=(
        '{"email": "lone@example.com", "password": "long enough password", "name": "A\\ud800"}'),
        content_type="application/json")
    assert register.status_code == 422, register.text
    assert register.json["errors"] == {"name": [SURROGATE]}
    signin = client.post("/api/v1/auth/token", content_type="application/json",
                         data='{"email": "x@example.com", "password": "\\udfff\\u0000"}')
    assert signin.status_code == 422, signin.text
    assert signin.json["errors"] == {"password": [NUL, SURROGATE]}
    nested = client.patch("/api/v1/me", headers=customer_headers, content_type="application/json",
                          data='{"name": "Ann", "concerns": ["acne", "\\udc00"]}')
    assert nested.status_code == 422 and nested.json["errors"] == {"concerns": [SURROGATE]}
    paired = client.patch("/api/v1/me", headers=customer_headers, content_type="application/json",
                          data='{"name": "Ann \\ud83e\\uddf4"}')  # a pair is one character
    assert paired.status_code == 200 and paired.json["name"] == "Ann \U0001f9f4"


@pytest.mark.parametrize("body", [
    "[" * 100_000 + "]" * 100_000,  # Python's parser runs out of stack
    '{"email": ' + "[" * 500 + "]" * 500 + "}",  # parsed, but walks over it ran out
    '{"email": "a@example.com", "password": "long enough password", "name": '
    + '{"a": ' * 40 + "1" + "}" * 40 + "}",  # deeper than any body we take
    '{"email": "a@example.com", "password": "long enough password", "name": 1'
    + "0" * 5_000 + "}",  # more digits than Python converts to an int
])
def test_json_the_parser_cannot_take_is_the_400_for_a_body_that_is_not_json(client, body):
    response = client.post("/api/v1/auth/register", data=body, content_type="application/json")
    assert response.status_code == 400, response.text
    assert response.content_type == "application/problem+json"
    assert response.json["errors"] == {"json": ["Invalid JSON body."]}
    cart = client.post("/api/v1/carts").json["id"]
    keyed = client.post(f"/api/v1/carts/{cart}/items", data=body,
                        content_type="application/json", headers={"Idempotency-Key": "deep-1"})
    assert keyed.status_code == 400, keyed.text  # the key's fingerprint parses the body too


def test_nul_in_a_query_parameter_name_or_a_path_is_refused(client):
    named = client.get("/api/v1/products", query_string={"q\x00": "serum"})
    assert named.status_code == 422 and list(named.json["errors"]) == ["q\x00"]
    assert client.get("/api/v1/products/serum%00").status_code == 404


def test_a_signed_webhook_is_not_refused_for_nul_characters(client):
    """Stripe's events carry what customers typed: the webhook takes them as they come (here
    the signature is wrong, so it is the view that answers: 400, not the NUL check's 422)."""
    response = client.post("/api/v1/stripe/webhook", json={
        "id": "evt_nul", "type": "customer.updated", "data": {"object": {"name": "A\x00"}}},
        headers={"Stripe-Signature": "t=1,v1=00"})
    assert response.status_code == 400, response.text


def test_an_id_beyond_the_integer_range_is_a_404_not_a_database_error(
    client, customer_headers, admin_token,
):
    huge = str(2**31)
    for method, path, headers in [
        ("GET", f"/api/v1/orders/{huge}", customer_headers),
        ("GET", f"/api/v1/me/addresses/{huge}", customer_headers),
        ("PATCH", f"/api/v1/me/addresses/{huge}", customer_headers),  # not 405: other methods
        ("DELETE", f"/api/v1/me/addresses/{'9' * 40}", customer_headers),
        ("POST", f"/api/v1/orders/{huge}/sync", {}),
        ("GET", f"/api/v1/admin/orders/{huge}", admin_token),
    ]:
        response = client.open(path, method=method, headers=headers,
                               json={} if method != "GET" else None)
        assert response.status_code == 404, (method, path, response.text)
        assert response.content_type == "application/problem+json"
    assert client.get(f"/api/v1/me/addresses/{2**31 - 1}",
                      headers=customer_headers).json["code"] != "not_found"  # the view's own


def test_integer_path_parameters_document_their_range(openapi_document):
    parameter = next(p for p in openapi_document["paths"]["/api/v1/orders/{order_id}"]["parameters"]
                     if p["name"] == "order_id")
    assert parameter["schema"] == {"type": "integer", "minimum": 0, "maximum": 2**31 - 1}


def test_out_of_range_numbers_in_every_integer_query_parameter_are_refused(
    client, openapi_document, admin_token,
):
    """PostgreSQL compares INTEGER columns only with values in range: a bigger number must
    be the client's 422, never the database's 500."""
    failures, covered = [], []
    for operation in operations(openapi_document):
        if operation.method != "GET":
            continue
        headers = admin_token if operation.secured else {}
        for parameter in operation.parameters:
            if parameter["in"] != "query" or parameter["schema"].get("type") != "integer":
                continue
            covered.append(f"{operation} ?{parameter['name']}")
            for value in (str(2**31), str(2**63), "9" * 30, "-" + "9" * 30):
                response = client.get(operation.url(), headers=headers,
                                      query_string={parameter["name"]: value})
                if response.status_code >= 500:
                    failures.append(f"{covered[-1]}={value}: {response.status_code}")
    assert not failures, "\n".join(failures)
    assert len(covered) > 10, covered


def test_out_of_range_integers_in_json_bodies_are_a_422_naming_the_field(
    client, customer_headers, admin_token,
):
    too_big = 2**31
    profile = client.patch("/api/v1/me", headers=customer_headers,
                           json={"default_address_id": too_big})
    assert profile.status_code == 422, profile.text
    assert list(profile.json["errors"]) == ["default_address_id"]
    category = client.post("/api/v1/admin/categories", headers=admin_token, json={
        "slug": "huge", "name": "Huge", "position": -too_big - 1})
    assert category.status_code == 422 and list(category.json["errors"]) == ["position"]
    nested = client.post("/api/v1/admin/vouchers/NOPE-NOPE/redemptions", headers=admin_token,
                         json={"amount": {"amount": 10**30, "currency": "GBP"}})
    assert nested.status_code == 422 and list(nested.json["errors"]) == ["amount"], nested.text
    fine = client.patch("/api/v1/me", headers=customer_headers, json={"name": "In range"})
    assert fine.status_code == 200
