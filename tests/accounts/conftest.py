"""Fixtures the accounts tests share."""

from __future__ import annotations

import secrets

import pytest

from shop import create_app
from shop.extensions import db


@pytest.fixture
def limited_app(app_config, db_session):
    """Build apps with rate limiting on (the suite's app has it off); strict limits unless
    a test says otherwise. Each test gets its own key prefix."""
    built = []
    prefix = f"test-{secrets.token_hex(6)}"

    def build(**overrides):
        config = {
            **app_config,
            "RATELIMIT_ENABLED": True,
            "RATELIMIT_STORAGE_URI": "memory://",
            "RATELIMIT_KEY_PREFIX": prefix,
            "LOGIN_RATE_LIMIT": "3 per minute",
            "LOGIN_EMAIL_RATE_LIMIT": "100 per minute",
            "REGISTER_RATE_LIMIT": "2 per minute",
            "REGISTER_EMAIL_RATE_LIMIT": "100 per minute",
            "REFRESH_RATE_LIMIT": "2 per minute",
            **overrides,
        }
        new_app = create_app(config)
        built.append(new_app)
        return new_app

    yield build
    for each in built:
        with each.app_context():
            db.engine.dispose()
