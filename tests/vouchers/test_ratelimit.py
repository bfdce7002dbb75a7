"""Guessing codes is hopeless: the look-up is limited per IP, counted in Redis, shared by every
app instance (two here, each with its own limiter state and Redis connection)."""

from __future__ import annotations

import os
import uuid

import pytest
import redis

from shop import create_app
from shop.vouchers import codes

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture
def redis_url():
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis at {REDIS_URL} is not reachable: {exc}")
        pytest.skip(f"Redis at {REDIS_URL} is not reachable: {exc}")
    prefix = f"shop-test-{uuid.uuid4().hex}"
    yield REDIS_URL, prefix
    for key in client.scan_iter(f"*{prefix}*"):
        client.delete(key)
    client.close()


def test_lookups_share_one_limit_across_instances_through_redis(app, app_config, redis_url):
    url, prefix = redis_url
    config = {**app_config, "RATELIMIT_ENABLED": True, "REDIS_URL": url,
              "RATELIMIT_STORAGE_URI": url, "RATELIMIT_KEY_PREFIX": prefix,
              "VOUCHER_LOOKUP_RATE_LIMIT": "30 per minute"}
    first, second = create_app(dict(config)).test_client(), create_app(dict(config)).test_client()
    ip = {"REMOTE_ADDR": "203.0.113.7"}
    statuses = [
        (first if n % 2 else second).get(f"/api/v1/vouchers/{codes.generate_code()}",
                                         environ_base=ip).status_code
        for n in range(30)
    ]
    assert statuses == [404] * 30
    for client in (first, second):
        refused = client.get(f"/api/v1/vouchers/{codes.generate_code()}", environ_base=ip)
        assert refused.status_code == 429
        assert refused.content_type == "application/problem+json"
        assert refused.json["code"] == "rate_limited"
        assert int(refused.headers["Retry-After"]) > 0
    other_ip = first.get(f"/api/v1/vouchers/{codes.generate_code()}",
                         environ_base={"REMOTE_ADDR": "203.0.113.8"})
    assert other_ip.status_code == 404
    counters = redis.Redis.from_url(url).keys(f"*{prefix}*")
    assert counters, "the counters live in Redis, not in either process"
