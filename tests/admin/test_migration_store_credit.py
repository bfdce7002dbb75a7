"""Migration 0036 adds store credit to staff refunds, both ways, and keeps every refund line:
on SQLite it rebuilds order_refunds, whose DROP TABLE deleted the lines referring to it until
migrations ran with foreign keys off (migrations/env.py)."""

from __future__ import annotations

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from shop.extensions import db
from tests.conftest import PAID_ORDER_SQL, migrated_to

NOW = "CURRENT_TIMESTAMP"
LINE = """INSERT INTO order_lines (id, order_id, kind, sku, name, quantity, unit_price_amount,
    line_total_amount, vat_rate, vat_amount)
VALUES (1, 1, 'product', 'GLW-MOIST-30', 'MOIST Serum', 1, 3000, 3000, 20, 500)"""
REFUND = f"""INSERT INTO order_refunds (id, order_id, amount, card_amount, voucher_amount,
    currency, restock, reason, created_at)
VALUES (1, 1, 3000, 3000, 0, 'GBP', false, 'returned', {NOW})"""
REFUND_LINE = """INSERT INTO order_refund_lines (refund_id, order_line_id, quantity, amount)
VALUES (1, 1, 1, 3000)"""
PARTS_DO_NOT_ADD_UP = f"""INSERT INTO order_refunds (order_id, amount, card_amount,
    voucher_amount, store_credit_amount, currency, restock, reason, created_at)
VALUES (1, 1000, 0, 0, 900, 'GBP', false, 'x', {NOW})"""


@pytest.fixture
def at_0035(app_config, tmp_path, worker_id):
    with migrated_to(app_config, tmp_path, worker_id, "0035") as app:
        yield app


def count(statement: str) -> int:
    with db.engine.connect() as connection:
        return connection.execute(text(statement)).scalar_one()


def test_refunds_keep_their_lines_and_get_no_store_credit(at_0035):
    with db.engine.begin() as connection:
        for statement in (PAID_ORDER_SQL, LINE, REFUND, REFUND_LINE):
            connection.execute(text(statement))
    upgrade(directory=at_0035.config["MIGRATIONS_DIR"], revision="0036")
    assert count("SELECT count(*) FROM order_refund_lines") == 1
    assert count("SELECT store_credit_amount FROM order_refunds WHERE id = 1") == 0
    with pytest.raises(IntegrityError), db.engine.begin() as connection:
        connection.execute(text(PARTS_DO_NOT_ADD_UP))
    downgrade(directory=at_0035.config["MIGRATIONS_DIR"], revision="0035")
    assert count("SELECT count(*) FROM order_refund_lines") == 1
    columns = {column["name"] for column in inspect(db.engine).get_columns("order_refunds")}
    assert "store_credit_amount" not in columns
    with db.engine.connect() as connection:  # foreign keys are enforced again after migrating
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1 \
            if connection.dialect.name == "sqlite" else True
