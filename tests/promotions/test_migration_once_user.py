"""Migration 0028 keys once-per-customer uses by account too: one of each account's uses of a
code already made counts for it, a paid one before a pending one (an account that used one
code twice under two addresses keeps both orders, and the first paid one holds the key)."""

from __future__ import annotations

import pytest
from flask_migrate import upgrade
from sqlalchemy import text

from shop.extensions import db
from tests.conftest import migrated_to

NOW = "CURRENT_TIMESTAMP"
USER = f"""INSERT INTO users (id, email, password_hash, name, role, marketing_consent,
    created_at, updated_at) VALUES (:id, :email, '!', 'T', 'customer', false, {NOW}, {NOW})"""
ORDER = f"""INSERT INTO orders (id, status, email, user_id, currency, subtotal_amount,
    shipping_amount, discount_amount, vat_amount, vat_breakdown, total_amount, amount_due,
    needs_attention, created_at, updated_at)
VALUES (:id, 'paid', :email, :user_id, 'GBP', 1000, 0, 100, 150, '[]', 900, 900, false,
    {NOW}, {NOW})"""
PROMOTION = f"""INSERT INTO promotions (id, code, description, percent_off, currency,
    min_subtotal_amount, once_per_customer, redemptions, status, created_at, updated_at)
VALUES (:id, :code, '', 10, 'GBP', 0, :once, 0, 'active', {NOW}, {NOW})"""
REDEMPTION = f"""INSERT INTO promotion_redemptions (promotion_id, order_id, amount, once_key,
    status, created_at, updated_at) VALUES (:promotion_id, :order_id, 100, :once_key, :status,
    {NOW}, {NOW})"""


@pytest.fixture
def before_0028(app_config, tmp_path, worker_id):
    with migrated_to(app_config, tmp_path, worker_id, "0028-1") as app:
        yield app


def test_each_accounts_first_use_of_a_once_per_customer_code_holds_its_key(before_0028):
    with db.engine.begin() as connection:
        run = connection.execute
        for user_id in (1, 2):
            run(text(USER), {"id": user_id, "email": f"u{user_id}@example.com"})
        run(text(PROMOTION), {"id": 1, "code": "WELCOME", "once": True})
        run(text(PROMOTION), {"id": 2, "code": "TENOFF", "once": False})
        uses = [  # (order, user, email, promotion, status), the first redemption first
            (15, 2, "u2.held@example.com", 1, "held"),
            (10, 1, "u1@example.com", 1, "used"), (11, 1, "other@example.com", 1, "used"),
            (12, 2, "u2@example.com", 1, "used"), (13, None, "guest@example.com", 1, "used"),
            (14, 1, "u1@example.com", 2, "used")]
        for order_id, user_id, email, promotion_id, status in uses:
            run(text(ORDER), {"id": order_id, "email": email, "user_id": user_id})
            run(text(REDEMPTION), {"promotion_id": promotion_id, "order_id": order_id,
                                   "once_key": email if promotion_id == 1 else None,
                                   "status": status})
    upgrade(directory=before_0028.config["MIGRATIONS_DIR"])
    with db.engine.connect() as connection:
        keys = dict(connection.execute(text(
            "SELECT order_id, once_user_id FROM promotion_redemptions")).all())
    # account 2's paid use holds its key, not its older pending one
    assert keys == {10: 1, 11: None, 12: 2, 13: None, 14: None, 15: None}
