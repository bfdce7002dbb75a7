"""Migration 0015 makes the order number a generated column: the numbers stay as they were."""

from __future__ import annotations

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import text

from shop.extensions import db
from tests.conftest import migrated_to

ORDER = """INSERT INTO orders (id, number, status, email, currency, subtotal_amount,
    shipping_amount, discount_amount, vat_amount, vat_breakdown, total_amount, amount_due,
    needs_attention, created_at, updated_at)
VALUES (:id, :number, 'paid', 'a@example.com', 'GBP', 1000, 0, 0, 167, '[]', 1000, 0, false,
    CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"""


@pytest.fixture
def at_0014(app_config, tmp_path, worker_id):
    """An app on a database of its own, migrated to the revision before 0015."""
    with migrated_to(app_config, tmp_path, worker_id, "0014") as app:
        yield app


def numbers(app) -> list[tuple[int, str]]:
    with db.engine.connect() as connection:
        rows = connection.execute(text("SELECT id, number FROM orders ORDER BY id"))
        return [tuple(row) for row in rows]


def test_existing_numbers_are_kept_and_new_orders_get_theirs(at_0014):
    with db.engine.begin() as connection:
        for order_id in (7, 12):
            connection.execute(text(ORDER), {"id": order_id, "number": f"GLW-{10000 + order_id}"})
    upgrade(directory=at_0014.config["MIGRATIONS_DIR"])
    assert numbers(at_0014) == [(7, "GLW-10007"), (12, "GLW-10012")]
    with db.engine.begin() as connection:
        connection.execute(text(ORDER.replace(":number, ", "").replace("number, ", "")),
                           {"id": 40})
    assert numbers(at_0014)[-1] == (40, "GLW-10040")
    downgrade(directory=at_0014.config["MIGRATIONS_DIR"], revision="0014")
    assert numbers(at_0014) == [(7, "GLW-10007"), (12, "GLW-10012"), (40, "GLW-10040")]


def test_the_upgrade_stops_at_a_number_of_another_form(at_0014, capsys):
    with db.engine.begin() as connection:
        connection.execute(text(ORDER), {"id": 3, "number": "LEGACY-3"})
    with pytest.raises(SystemExit):  # (how Flask-Migrate reports a failed migration)
        upgrade(directory=at_0014.config["MIGRATIONS_DIR"])
    assert "1 orders have a number not of the form" in capsys.readouterr().err
    assert numbers(at_0014) == [(3, "LEGACY-3")]
