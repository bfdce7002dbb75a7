"""Migration 0037 tells where each voucher came from: bought (it has its order line), store
credit (a staff refund names it), else given by the clinic; both ways."""

from __future__ import annotations

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text

from shop.extensions import db
from tests.conftest import PAID_ORDER_SQL, migrated_to

NOW = "CURRENT_TIMESTAMP"
VOUCHER = f"""INSERT INTO vouchers (id, kind, code_hash, code_encrypted, code_last4, currency,
    initial_amount, balance_amount, held_amount, status, expires_at, recipient_name, message,
    order_line_id, frozen, created_at, updated_at)
VALUES (:id, 'money', :hash, 'x', 'ABCD', 'GBP', 1000, 1000, 0, 'active', {NOW}, '', '',
    :line, false, {NOW}, {NOW})"""
STORE_CREDIT = f"""INSERT INTO order_refunds (order_id, amount, card_amount, voucher_amount,
    store_credit_amount, store_credit_voucher_id, currency, restock, reason, created_at)
VALUES (1, 1000, 0, 0, 1000, 3, 'GBP', false, 'store credit', {NOW})"""


@pytest.fixture
def at_0036(app_config, tmp_path, worker_id):
    with migrated_to(app_config, tmp_path, worker_id, "0036") as app:
        yield app


def test_each_voucher_gets_where_it_came_from(at_0036):
    with db.engine.begin() as connection:
        connection.execute(text(PAID_ORDER_SQL))
        for voucher_id, line in ((1, 501), (2, None), (3, None)):
            connection.execute(text(VOUCHER), {"id": voucher_id, "hash": f"h{voucher_id}",
                                               "line": line})
        connection.execute(text(STORE_CREDIT))
    upgrade(directory=at_0036.config["MIGRATIONS_DIR"], revision="0037")
    with db.engine.connect() as connection:
        sources = dict(connection.execute(text("SELECT id, source FROM vouchers")).all())
    assert sources == {1: "purchase", 2: "clinic_gift", 3: "store_credit"}
    downgrade(directory=at_0036.config["MIGRATIONS_DIR"], revision="0036")
    columns = {column["name"] for column in inspect(db.engine).get_columns("vouchers")}
    assert "source" not in columns
