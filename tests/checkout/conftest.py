"""Fixtures shared with the cart tests."""

from tests.carts.conftest import user_resolved_per_request  # noqa: F401
