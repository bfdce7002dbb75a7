"""The request size limit (MAX_CONTENT_LENGTH) holds on every operation that takes a body,
as the OpenAPI document lists them: a declared oversized body and a chunked one (no
Content-Length, as a streaming client sends it) are both a 413 problem, before anything
(authentication included) looks at them, and nothing is written."""

from __future__ import annotations

import io

from sqlalchemy import func, select

from shop.carts.models import Cart
from tests.robustness.spec import operations

BODY_METHODS = {"POST", "PUT", "PATCH"}


def _body_operations(document: dict):
    return [operation for operation in operations(document)
            if operation.method in BODY_METHODS or operation.request_types]


def _assert_too_large(response, label: str) -> None:
    assert response.status_code == 413, (label, response.status_code, response.data[:200])
    assert response.content_type == "application/problem+json", label
    assert response.json["code"] == "payload_too_large", label


def test_every_body_taking_operation_refuses_an_oversized_body(
    app, client, db_session, openapi_document, admin_token,
):
    limit = app.config["MAX_CONTENT_LENGTH"]
    oversized = b'{"padding": "' + b"x" * limit + b'"}'
    carts_before = db_session.scalar(select(func.count()).select_from(Cart))
    checked = []
    for operation in _body_operations(openapi_document):
        content_type = (operation.request_types or ("application/json",))[0]
        headers = admin_token if operation.secured else {}
        label = f"{operation} ({content_type})"
        _assert_too_large(client.open(operation.url(), method=operation.method, data=oversized,
                                      content_type=content_type, headers=headers), label)
        _assert_too_large(client.open(operation.url(), method=operation.method, data=oversized,
                                      content_type=content_type), label + " anonymous")
        chunked = client.open(
            operation.url(), method=operation.method, content_type=content_type,
            headers={**headers, "Transfer-Encoding": "chunked"},  # no Content-Length
            input_stream=io.BytesIO(oversized),
            environ_overrides={"wsgi.input_terminated": True},  # as gunicorn says for chunked
        )
        _assert_too_large(chunked, label + " chunked")
        checked.append(label)
    assert len(checked) > 30, checked  # the walk really found the write operations
    assert db_session.scalar(select(func.count()).select_from(Cart)) == carts_before


def test_a_body_at_the_limit_is_still_read(app, client):
    limit = app.config["MAX_CONTENT_LENGTH"]
    body = b'{"email": "a@example.com", "password": "wrong password", "pad": "'
    body += b"x" * (limit - len(body) - 2) + b'"}'
    assert len(body) == limit
    response = client.post("/api/v1/auth/token", data=body, content_type="application/json")
    assert response.status_code == 422  # parsed, and refused for its unknown field only
    assert list(response.json["errors"]) == ["pad"]


def test_a_chunked_body_within_the_limit_is_read_whole(app, client):
    limit = app.config["MAX_CONTENT_LENGTH"]
    for size in (limit, limit // 2):
        body = b'{"email": "a@example.com", "password": "wrong password", "pad": "'
        body += b"x" * (size - len(body) - 2) + b'"}'
        response = client.post(
            "/api/v1/auth/token", input_stream=io.BytesIO(body), content_type="application/json",
            headers={"Transfer-Encoding": "chunked"},
            environ_overrides={"wsgi.input_terminated": True})
        assert response.status_code == 422, (size, response.data[:200])
        assert list(response.json["errors"]) == ["pad"]
