"""Rate limits: 429 problem+json with Retry-After, per IP and per email, in memory and shared
between app instances through the real Redis on 127.0.0.1:6379."""

from __future__ import annotations

import os
import secrets

import pytest
import redis

from shop import ratelimits
from shop.accounts.auth import access
from shop.api import Blueprint
from shop.extensions import api, limiter

REDIS_URL = "redis://127.0.0.1:6379/0"
PASSWORD = "violet kettle harbour"


@pytest.fixture
def redis_available():
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis at {REDIS_URL} is not reachable: {exc}", pytrace=False)
        pytest.skip(f"Redis at {REDIS_URL} is not reachable: {exc}")


def sign_in(client, email="nobody@example.com", ip="203.0.113.7"):
    return client.post("/api/v1/auth/token", json={"email": email, "password": PASSWORD},
                       environ_base={"REMOTE_ADDR": ip})


def assert_rate_limited(response):
    assert response.status_code == 429, response.get_data(as_text=True)
    assert response.content_type == "application/problem+json"
    body = response.json
    assert body["code"] == "rate_limited" and body["status"] == 429
    assert 0 < int(response.headers["Retry-After"]) <= 60
    return body


def test_sign_in_is_limited_per_ip(limited_app):
    # The headers describe the limit with the smallest window: make that the per-IP one.
    client = limited_app(LOGIN_EMAIL_RATE_LIMIT="100 per hour").test_client()
    allowed = [sign_in(client) for _ in range(3)]
    assert [response.status_code for response in allowed] == [401, 401, 401]
    assert [response.headers["X-RateLimit-Remaining"] for response in allowed] == ["2", "1", "0"]
    assert all("Retry-After" not in response.headers for response in allowed)
    body = assert_rate_limited(sign_in(client))
    assert "address" in body["detail"]
    assert sign_in(client, ip="198.51.100.1").status_code == 401  # another address is free


def test_sign_in_is_limited_per_email_across_addresses(limited_app):
    client = limited_app(LOGIN_RATE_LIMIT="100 per minute",
                         LOGIN_EMAIL_RATE_LIMIT="2 per minute").test_client()
    email = "target@example.com"
    assert sign_in(client, email=email, ip="198.51.100.1").status_code == 401
    assert sign_in(client, email=" TARGET@example.com", ip="198.51.100.2").status_code == 401
    body = assert_rate_limited(sign_in(client, email=email, ip="198.51.100.3"))
    assert "email" in body["detail"]
    assert sign_in(client, email="other@example.com", ip="198.51.100.3").status_code == 401


def test_registration_is_limited_per_ip_and_per_email(limited_app):
    client = limited_app(REGISTER_EMAIL_RATE_LIMIT="1 per minute").test_client()

    def register(email, ip):
        return client.post("/api/v1/auth/register", environ_base={"REMOTE_ADDR": ip},
                           json={"email": email, "password": PASSWORD, "name": "R"})

    assert register("one@example.com", "192.0.2.1").status_code == 201
    assert_rate_limited(register("one@example.com", "192.0.2.2"))  # the same email again
    assert register("two@example.com", "192.0.2.1").status_code == 201
    assert_rate_limited(register("three@example.com", "192.0.2.1"))  # third from one address


def test_refresh_is_limited_per_ip(limited_app):
    client = limited_app().test_client()
    for _ in range(2):
        response = client.post("/api/v1/auth/refresh", json={"refresh_token": "re_nothing"})
        assert response.status_code == 401
    assert_rate_limited(client.post("/api/v1/auth/refresh", json={"refresh_token": "re_x"}))


def test_limits_are_settings(limited_app):
    client = limited_app(LOGIN_RATE_LIMIT="1 per minute").test_client()
    assert sign_in(client).status_code == 401
    assert_rate_limited(sign_in(client))


def test_limiting_one_app_leaves_other_apps_alone(limited_app, client):
    limited = limited_app(LOGIN_RATE_LIMIT="1 per minute").test_client()
    sign_in(limited)
    assert_rate_limited(sign_in(limited))
    # The suite's app was built with RATELIMIT_ENABLED False and stays that way.
    assert {sign_in(client).status_code for _ in range(5)} == {401}


def test_other_domains_can_reuse_a_named_per_ip_limit(limited_app):
    blp = Blueprint("ratelimit_probe", __name__, url_prefix="/api/v1/probe")

    @blp.route("/lookup/<code>")
    @access("public")
    @ratelimits.per_ip("VOUCHER_LOOKUP_RATE_LIMIT")
    def probe_lookup(code: str):
        """Probe."""
        return {"code": code}

    probe = limited_app(VOUCHER_LOOKUP_RATE_LIMIT="2 per minute")
    api.register_blueprint(blp)
    try:
        client = probe.test_client()
        assert [client.get(f"/api/v1/probe/lookup/c{i}").status_code for i in range(2)] == [
            200, 200]
        assert_rate_limited(client.get("/api/v1/probe/lookup/c3"))
    finally:
        limited_app()  # the shared Api documents the last app built: leave a normal one


def test_a_default_limit_is_still_checked_before_every_route(limited_app):
    """The check Flask-Limiter runs before every request is skipped only while no default,
    application-wide or blueprint limit exists; Flask-Limiter's own settings still work."""
    client = limited_app(RATELIMIT_DEFAULT="2 per minute").test_client()
    try:
        assert [client.get("/api/v1/shipping-methods").status_code for _ in range(2)] == [
            200, 200]
        assert_rate_limited(client.get("/api/v1/shipping-methods"))
    finally:
        limiter.limit_manager.set_default_limits([])  # shared by every app of the process
    assert client.get("/api/v1/shipping-methods").status_code == 200


def test_redis_shares_a_limit_between_two_app_instances(limited_app, redis_available):
    prefix = f"test-{secrets.token_hex(6)}"
    config = {"RATELIMIT_STORAGE_URI": REDIS_URL, "RATELIMIT_KEY_PREFIX": prefix,
              "LOGIN_RATE_LIMIT": "2 per minute"}
    first, second = limited_app(**config), limited_app(**config)
    assert first is not second
    assert sign_in(first.test_client()).status_code == 401
    assert sign_in(second.test_client()).status_code == 401
    assert_rate_limited(sign_in(first.test_client()))
    assert_rate_limited(sign_in(second.test_client()))  # it saw the hits made on `first`
    # The counters really are in Redis, under this test's prefix.
    keys = redis.Redis.from_url(REDIS_URL).keys(f"*{prefix}*")
    assert keys
    # A memory-backed app keeps its own counters.
    assert sign_in(limited_app(LOGIN_RATE_LIMIT="2 per minute").test_client()).status_code == 401
    redis.Redis.from_url(REDIS_URL).delete(*keys)
