"""Migration 0032 records when each card refund the bank sent back failed, from the order's
refund_failed event, so the sales report books it on that day; both ways."""

from __future__ import annotations

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text

from shop.extensions import db
from tests.conftest import PAID_ORDER_SQL, migrated_to

NOW = "CURRENT_TIMESTAMP"
PAYMENT = f"""INSERT INTO payments (id, order_id, provider, flow, payment_intent_id, status,
    amount, currency, attempt, created_at, updated_at)
VALUES (1, 1, 'stripe', 'payment_intent', 'pi_1', 'succeeded', 3000, 'GBP', 1, {NOW}, {NOW})"""
REFUND = f"""INSERT INTO refunds (id, order_id, payment_id, stripe_refund_id, amount, status,
    reason, idempotency_key, created_at)
VALUES (:id, 1, 1, :stripe_id, 500, :status, 'returned', :stripe_id, {NOW})"""
FAILED_EVENT = """INSERT INTO order_events (order_id, type, data, created_at)
VALUES (1, 'refund_failed', :data, '2026-11-03 10:15:00')"""


@pytest.fixture
def at_0031(app_config, tmp_path, worker_id):
    with migrated_to(app_config, tmp_path, worker_id, "0031") as app:
        yield app


def test_a_failed_refund_takes_its_time_from_the_event_and_only_it(at_0031):
    with db.engine.begin() as connection:
        for statement in (PAID_ORDER_SQL, PAYMENT):
            connection.execute(text(statement))
        for refund_id, stripe_id, status in ((1, "re_failed", "failed"),
                                             (2, "re_paid", "succeeded")):
            connection.execute(text(REFUND), {"id": refund_id, "stripe_id": stripe_id,
                                              "status": status})
        connection.execute(text(FAILED_EVENT),
                           {"data": '{"refund_id": "re_failed", "amount": 500}'})
    upgrade(directory=at_0031.config["MIGRATIONS_DIR"], revision="0032")
    with db.engine.connect() as connection:
        failed_at = dict(connection.execute(text(
            "SELECT stripe_refund_id, failed_at FROM refunds")).all())
    assert failed_at["re_paid"] is None
    assert str(failed_at["re_failed"])[:16] == "2026-11-03 10:15"  # SQLite answers text
    downgrade(directory=at_0031.config["MIGRATIONS_DIR"], revision="0031")
    columns = {column["name"] for column in inspect(db.engine).get_columns("refunds")}
    assert "failed_at" not in columns
