"""Fixtures for the cart, checkout and order tests."""

from __future__ import annotations

import pytest
from flask import g, request_started


@pytest.fixture(autouse=True)
def user_resolved_per_request(app):
    """The test client reuses the db_session fixture's app context, and so its `g`, for every
    request of a test; forget the user cached there so each request authenticates itself."""

    def forget(_sender, **_extra) -> None:
        for name in ("current_user", "bearer_presented", "token_family_id"):
            g.pop(name, None)

    request_started.connect(forget, app)
    yield
    request_started.disconnect(forget, app)
