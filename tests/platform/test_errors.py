"""Every error is RFC 9457 problem+json with a stable code; nothing leaks a 500."""

import io

import pytest

from shop import create_app


@pytest.fixture(scope="module")
def probe_client(app, app_config):
    """A second app on the same database with routes that misbehave on purpose."""
    probe = create_app({**app_config, "PROPAGATE_EXCEPTIONS": False})

    @probe.route("/_test/echo", methods=["POST"])
    def echo():
        return {"ok": True}

    @probe.route("/_test/boom")
    def boom():
        raise RuntimeError("secret internals")

    return probe.test_client()


def assert_problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.content_type == "application/problem+json"
    body = response.json
    assert {"type", "title", "status", "detail", "code"} <= set(body)
    assert body["status"] == status and body["code"] == code
    return body


def test_unknown_route_is_404_problem(client):
    assert_problem(client.get("/api/v1/nowhere"), 404, "not_found")


def test_wrong_method_is_405_problem_with_allow(client):
    response = client.delete("/api/v1/products")
    assert_problem(response, 405, "method_not_allowed")
    assert "GET" in response.headers["Allow"]


def test_non_json_body_is_415(probe_client):
    response = probe_client.post("/_test/echo", data="a=1",
                                 content_type="application/x-www-form-urlencoded")
    assert_problem(response, 415, "unsupported_media_type")


def _chunked(client, body: bytes, content_type: str):
    """A body sent without Content-Length, as gunicorn hands a chunked one to the app."""
    return client.post("/_test/echo", input_stream=io.BytesIO(body), content_type=content_type,
                       headers={"Transfer-Encoding": "chunked"},
                       environ_overrides={"wsgi.input_terminated": True})


def test_a_chunked_body_meets_the_same_rules(probe_client):
    assert_problem(_chunked(probe_client, b"a=1", "application/x-www-form-urlencoded"),
                   415, "unsupported_media_type")
    refused = _chunked(probe_client, b'{"name": "Ann\\u0000"}', "application/json")
    assert_problem(refused, 422, "validation_error")
    assert list(refused.json["errors"]) == ["name"]


def test_body_over_the_limit_is_413(app, client, probe_client):
    limit = app.config["MAX_CONTENT_LENGTH"]
    response = client.post(
        "/api/v1/products", data=b"{" + b" " * limit + b"}", content_type="application/json"
    )
    assert response.status_code in (405, 413)
    big = probe_client.post("/_test/echo", data=b"x" * (limit + 1), content_type="application/json")
    assert_problem(big, 413, "payload_too_large")


def test_validation_errors_are_keyed_by_field(client):
    body = assert_problem(client.get("/api/v1/products?per_page=abc"), 422, "validation_error")
    assert list(body["errors"]) == ["per_page"]


def test_unexpected_exception_is_a_500_problem_without_details(probe_client):
    body = assert_problem(probe_client.get("/_test/boom"), 500, "internal_error")
    assert "secret" not in str(body)


@pytest.mark.parametrize("path", ["/health", "/api/v1/products"])
def test_request_id_is_echoed_or_generated(client, path):
    assert len(client.get(path).headers["X-Request-ID"]) == 32
    response = client.get(path, headers={"X-Request-ID": "abc-123"})
    assert response.headers["X-Request-ID"] == "abc-123"
    forged = client.get(path, headers={"X-Request-ID": "bad id;<x>"}).headers["X-Request-ID"]
    assert forged != "bad id;<x>" and len(forged) == 32


def test_security_headers(client):
    headers = client.get("/api/v1/products").headers
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
