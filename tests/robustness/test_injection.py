"""SQL injection and hostile text in every text parameter of every GET operation the OpenAPI
document describes (query and path, signed in as an admin so each request reaches its view):
never a 5xx, always a JSON (or CSV) answer, and every table and row still there afterwards.
Nothing here lists the operations: one added tomorrow is covered tomorrow."""

from __future__ import annotations

from urllib.parse import quote

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
ANSWER_TYPES = ("application/json", "application/problem+json", "text/csv")


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
                response = client.get(operation.url(), headers=headers, **attempt)
                sent += 1
                _check(response, operation, name, attempt["query_string"], failures)
        for parameter in operation.text_parameters("path"):
            name = parameter["name"]
            covered.add(f"{operation} {{{name}}}")
            for value in [quote(payload, safe="") for payload in PAYLOADS] + [RAW_PATH]:
                response = client.get(operation.url(**{name: value}), headers=headers)
                sent += 1
                _check(response, operation, name, value, failures)
    assert not failures, "\n".join(failures)
    assert sent > 300 and len(covered) > 20, (sent, sorted(covered))  # the walk really ran
    # Nothing was dropped, deleted or added by any of it.
    assert set(inspect(db_session.connection()).get_table_names()) == tables
    assert _row_counts(db_session) == counts


def _check(response, operation, name, sent, failures: list[str]) -> None:
    shown = repr(sent)[:60]
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
