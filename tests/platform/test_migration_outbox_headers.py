"""Migration 0031 gives outbox emails their extra header fields; queued email stays queued,
both ways."""

from __future__ import annotations

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text

from shop.extensions import db
from tests.conftest import migrated_to

EMAIL = """INSERT INTO outbox_emails (id, message_id, "to", subject, text, sealed, status,
    attempts, next_attempt_at, created_at)
VALUES (:id, :message_id, 'a@example.com', 'Your cart', 'Still there.', false, 'pending', 0,
    CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"""


@pytest.fixture
def at_0030(app_config, tmp_path, worker_id):
    with migrated_to(app_config, tmp_path, worker_id, "0030") as app:
        yield app


def columns() -> set[str]:
    return {column["name"] for column in inspect(db.engine).get_columns("outbox_emails")}


def pending() -> list[tuple]:
    with db.engine.connect() as connection:
        return [tuple(row) for row in connection.execute(text(
            "SELECT id, subject, status FROM outbox_emails ORDER BY id"))]


def test_headers_are_added_and_removed_and_queued_email_stays(at_0030):
    with db.engine.begin() as connection:
        connection.execute(text(EMAIL), {"id": 1, "message_id": "<one@example.com>"})
    upgrade(directory=at_0030.config["MIGRATIONS_DIR"], revision="0031")
    assert "headers" in columns()
    with db.engine.begin() as connection:
        assert connection.scalar(text("SELECT headers FROM outbox_emails")) is None
        connection.execute(text(EMAIL), {"id": 2, "message_id": "<two@example.com>"})
        connection.execute(text(
            "UPDATE outbox_emails SET headers = :headers WHERE id = 2"),
            {"headers": '{"List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}'})
    downgrade(directory=at_0030.config["MIGRATIONS_DIR"], revision="0030")
    assert "headers" not in columns()
    assert pending() == [(1, "Your cart", "pending"), (2, "Your cart", "pending")]
