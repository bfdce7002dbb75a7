"""The review tests' request boundaries and signed-in staff."""

from tests.admin.conftest import admin, client, staff  # noqa: F401
