"""Security headers on every kind of response (2xx, 204, 304, 4xx, 413, 415, 429, 500, 503,
preflight, HEAD, static files, the docs page), HSTS in production only; and CORS granted to
configured origins only, preflight included."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import OperationalError

from shop import create_app
from shop.extensions import db
from tests.fixtures.auth import bearer_for, make_user

PRODUCTION = {
    "SHOP_ENV": "production", "TESTING": False, "PROPAGATE_EXCEPTIONS": False,
    "SECRET_KEY": "production-like-secret-key", "VOUCHER_KEY": "production-like-voucher-key",
    "STRIPE_WEBHOOK_SECRET": "whsec_production_like", "RATELIMIT_ENABLED": True,
    "RATELIMIT_STORAGE_URI": "memory://", "LOGIN_RATE_LIMIT": "1 per minute",
    "CORS_ORIGINS": ["https://shop.aestheticsglow.example"],
    "CATALOGUE_RESPONSE_CACHE_SECONDS": 5,  # production's default: replayed responses too
}
ALLOWED_ORIGIN = "https://shop.aestheticsglow.example"


def probe_app(config: dict):
    probe = create_app(config)

    @probe.get("/_test/boom")
    def boom():
        raise RuntimeError("boom")

    @probe.get("/_test/database-gone")
    def database_gone():
        raise OperationalError("SELECT 1", {}, Exception("server closed the connection"))

    return probe


@pytest.fixture(scope="module")
def production_client(app, app_config):
    return probe_app({**app_config, **PRODUCTION}).test_client()


@pytest.fixture
def admin_bearer(db_session):
    return bearer_for(db_session, make_user(db_session, role="admin"))


def every_kind_of_response(client, bearer: dict) -> dict[str, object]:
    """One response of each kind the shop sends, keyed by a label."""
    listing = client.get("/api/v1/products")
    product = listing.json["items"][0]["slug"]
    responses = {
        "200 list": listing,
        "200 list replayed by the cache": client.get("/api/v1/products"),
        "200 detail": client.get(f"/api/v1/products/{product}"),
        "304 not modified": client.get("/api/v1/products",
                                       headers={"If-None-Match": listing.headers["ETag"]}),
        "201 created": client.post("/api/v1/carts"),
        "204 no content": client.post("/api/v1/auth/logout", headers=bearer_customer(client)),
        "200 csv": client.get("/api/v1/admin/stock", query_string={"format": "csv"},
                              headers=bearer),
        "200 HEAD": client.head("/api/v1/categories"),
        "200 preflight": client.options("/api/v1/carts", headers={
            "Origin": ALLOWED_ORIGIN, "Access-Control-Request-Method": "POST"}),
        "200 health": client.get("/health"),
        "200 openapi": client.get("/api/v1/openapi.json"),
        "200 docs page": client.get("/api/v1/docs"),
        "200 static asset": client.get("/api/v1/docs-assets/swagger-ui.css"),
        "400 bad request": client.post("/api/v1/carts", headers={"Idempotency-Key": "bad key"}),
        "401 unauthorised": client.get("/api/v1/me"),
        "403 forbidden": client.get("/api/v1/admin/staff", headers=bearer_customer(client)),
        "404 unknown route": client.get("/api/v1/nowhere"),
        "404 unknown product": client.get("/api/v1/products/no-such-product"),
        "405 wrong method": client.delete("/api/v1/products"),
        "413 too large": client.post("/api/v1/carts", data=b"{" + b" " * 2_000_000 + b"}",
                                     content_type="application/json"),
        "415 not json": client.post("/api/v1/auth/token", data="a=1",
                                    content_type="application/x-www-form-urlencoded"),
        "422 invalid": client.get("/api/v1/products", query_string={"per_page": "lots"}),
        "500 unexpected": client.get("/_test/boom"),
        "503 database gone": client.get("/_test/database-gone"),
    }
    sign_in = {"email": "nobody@example.com", "password": "not the password"}
    client.post("/api/v1/auth/token", json=sign_in)
    responses["429 rate limited"] = client.post("/api/v1/auth/token", json=sign_in)
    return responses


def bearer_customer(client) -> dict:
    with client.application.app_context():
        headers = bearer_for(db.session, make_user(db.session, role="customer"))
        db.session.commit()  # into the test's outer transaction (rolled back after it)
        return headers


def expected_status(label: str) -> int:
    return int(label.split()[0])


def test_every_kind_of_response_carries_the_security_headers_in_production(
    production_client, admin_bearer,
):
    for label, response in every_kind_of_response(production_client, admin_bearer).items():
        assert response.status_code == expected_status(label), (label, response.data[:300])
        headers = response.headers
        assert headers["X-Content-Type-Options"] == "nosniff", label
        assert headers["X-Frame-Options"] == "DENY", label
        assert headers["Referrer-Policy"] == "no-referrer", label
        hsts = headers["Strict-Transport-Security"]
        assert "includeSubDomains" in hsts, label
        assert int(hsts.split("max-age=")[1].split(";")[0]) >= 31536000, label
        if response.status_code >= 400:
            assert response.content_type == "application/problem+json", label


def test_hsts_is_only_sent_in_production(client, app_config):
    # Over plain HTTP in development HSTS would be ignored at best and sticky at worst.
    for shop_env in ("test", "development"):
        development = create_app({**app_config, "SHOP_ENV": shop_env}).test_client()
        for path in ("/api/v1/products", "/api/v1/nowhere", "/health"):
            response = development.get(path)
            assert "Strict-Transport-Security" not in response.headers, (shop_env, path)
            assert response.headers["X-Content-Type-Options"] == "nosniff"
            assert response.headers["X-Frame-Options"] == "DENY"


PREFLIGHT = {"Access-Control-Request-Method": "POST",
             "Access-Control-Request-Headers": "Authorization, Content-Type, Idempotency-Key"}
REFUSED_ORIGINS = [
    "https://evil.example",
    "null",
    "http://shop.aestheticsglow.example",  # another scheme
    "https://shop.aestheticsglow.example:8443",  # another port
    "https://shop.aestheticsglow.example.evil.example",  # the allowed one as a prefix
    "https://evil-shop.aestheticsglow.example",
    "https://aestheticsglow.example",
]
CORS_HEADERS = ("Access-Control-Allow-Origin", "Access-Control-Allow-Methods",
                "Access-Control-Allow-Headers", "Access-Control-Allow-Credentials",
                "Access-Control-Expose-Headers")


def test_cors_is_granted_to_the_configured_origin_preflight_included(production_client):
    preflight = production_client.options("/api/v1/carts/abc/checkout",
                                          headers={"Origin": ALLOWED_ORIGIN, **PREFLIGHT})
    assert preflight.status_code == 200  # no token needed to ask
    assert preflight.headers["Access-Control-Allow-Origin"] == ALLOWED_ORIGIN
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    allowed_headers = preflight.headers["Access-Control-Allow-Headers"].lower()
    assert {"authorization", "content-type", "idempotency-key"} <= {
        name.strip() for name in allowed_headers.split(",")}
    # Bearer tokens, not cookies: browsers are never told to send credentials.
    assert "Access-Control-Allow-Credentials" not in preflight.headers
    for response in (production_client.get("/api/v1/products", headers={"Origin": ALLOWED_ORIGIN}),
                     production_client.get("/api/v1/nowhere", headers={"Origin": ALLOWED_ORIGIN})):
        assert response.headers["Access-Control-Allow-Origin"] == ALLOWED_ORIGIN
        assert "X-Request-ID" in response.headers["Access-Control-Expose-Headers"]


def test_publicly_cacheable_responses_vary_by_origin(production_client):
    """A shared cache must not hand one origin's CORS answer (or a refused origin's lack of
    one) to another origin."""
    for origin in (ALLOWED_ORIGIN, "https://evil.example", None):
        response = production_client.get("/api/v1/products",
                                          headers={"Origin": origin} if origin else {})
        assert response.headers["Cache-Control"].startswith("public")
        assert "Origin" in [part.strip() for part in response.headers["Vary"].split(",")]


@pytest.mark.parametrize("origin", REFUSED_ORIGINS)
def test_cors_is_refused_to_any_other_origin(production_client, origin):
    for response in (
        production_client.options("/api/v1/carts", headers={"Origin": origin, **PREFLIGHT}),
        production_client.get("/api/v1/products", headers={"Origin": origin}),
        production_client.post("/api/v1/carts", headers={"Origin": origin}),
    ):
        assert not [name for name in CORS_HEADERS if name in response.headers], (
            origin, dict(response.headers))


def test_without_configured_origins_no_origin_is_granted(app_config):
    closed = create_app({**app_config, "CORS_ORIGINS": []}).test_client()
    for origin in (ALLOWED_ORIGIN, "https://evil.example", "null"):
        for response in (closed.options("/api/v1/carts", headers={"Origin": origin, **PREFLIGHT}),
                         closed.get("/api/v1/products", headers={"Origin": origin})):
            assert "Access-Control-Allow-Origin" not in response.headers, origin


def test_cors_stays_off_outside_the_api(production_client):
    for path in ("/health", "/ready"):
        response = production_client.get(path, headers={"Origin": ALLOWED_ORIGIN})
        assert "Access-Control-Allow-Origin" not in response.headers, path
