"""Fixtures for the robustness tests (the gunicorn fixtures are in tests/fixtures/processes.py)."""

from __future__ import annotations

import pytest

from tests.fixtures.auth import bearer_for, make_user


@pytest.fixture
def openapi_document(client) -> dict:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.json


@pytest.fixture
def admin_token(db_session) -> dict[str, str]:
    """An admin's bearer header: admins pass every role check, so requests reach the view."""
    return bearer_for(db_session, make_user(db_session, role="admin"))
