"""The ledger under concurrency (PostgreSQL): staff adjustments, stocktakes and checkouts at
once never push stock below zero or below what is reserved, and on hand stays the sum of
the movements."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from shop.errors import Conflict
from shop.extensions import db
from shop.inventory.models import StockLevel, StockMovement
from shop.orders import services as orders
from shop.orders.models import StockReservation
from tests.admin.factories import ledger_sum, make_variant, place_order
from tests.fixtures.auth import bearer_for, make_user

pytestmark = [pytest.mark.postgresql_only, pytest.mark.slow]
THREADS = 16
ADJUST = "/api/v1/admin/stock/adjustments"


@pytest.fixture
def race_app(pooled_app):
    return pooled_app(THREADS + 4)


def setup(app, stock: int) -> tuple[int, str, dict]:
    with app.app_context():
        variant = make_variant(db.session, stock=stock)
        headers = bearer_for(db.session, make_user(db.session, role="staff"))
        db.session.commit()
        result = variant.id, variant.sku, headers
        db.session.remove()
        return result


def post_adjustment(app, headers: dict, body: dict) -> int:
    return app.test_client().post(ADJUST, json=body, headers=headers).status_code


def check_invariant(app, variant_id: int) -> StockLevel:
    with app.app_context():
        level = db.session.get(StockLevel, variant_id)
        assert level.on_hand == ledger_sum(db.session, variant_id)
        assert 0 <= level.reserved <= level.on_hand
        active = db.session.scalar(
            select(func.coalesce(func.sum(StockReservation.quantity), 0))
            .where(StockReservation.variant_id == variant_id,
                   StockReservation.status == "active"))
        assert level.reserved == active
        db.session.expunge(level)
        db.session.remove()
        return level


def test_concurrent_write_offs_take_exactly_what_exists(race_app):
    variant_id, sku, headers = setup(race_app, stock=10)
    body = {"sku": sku, "reason": "damaged", "quantity": -1}
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        statuses = list(pool.map(lambda _: post_adjustment(race_app, headers, body),
                                 range(THREADS)))
    assert sorted(statuses) == [201] * 10 + [409] * (THREADS - 10)
    assert check_invariant(race_app, variant_id).on_hand == 0


def test_adjustments_stocktakes_and_checkouts_at_once(race_app):
    variant_id, sku, headers = setup(race_app, stock=40)

    def staff_work(n: int) -> str:
        bodies = [{"sku": sku, "reason": "received", "quantity": 3},
                  {"sku": sku, "reason": "damaged", "quantity": -2},
                  {"sku": sku, "reason": "correction", "quantity": -1},
                  {"sku": sku, "reason": "stocktake", "counted": 30}]
        status = post_adjustment(race_app, headers, bodies[n % len(bodies)])
        assert status in (200, 201, 409), status
        return f"adjust:{status}"

    def checkout(n: int) -> str:
        with race_app.app_context():
            try:
                from shop.catalogue.models import Variant

                variant = db.session.get(Variant, variant_id)
                order = place_order(db.session, [(variant, 2)])
                db.session.commit()
                if n % 2 == 0:
                    orders.mark_paid(session=db.session, order_id=order.id,
                                     amount_received=order.amount_due, reference=f"race-{n}")
                    db.session.commit()
                    return "sold"
                return "reserved"
            except Conflict as refused:
                db.session.rollback()
                return refused.code
            finally:
                db.session.remove()

    work = [(staff_work, n) for n in range(THREADS)] + [(checkout, n) for n in range(THREADS)]
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        results = list(pool.map(lambda job: job[0](job[1]), work))
    assert "sold" in results and "adjust:201" in results
    level = check_invariant(race_app, variant_id)
    with race_app.app_context():
        reasons = set(db.session.scalars(select(StockMovement.reason)
                                         .where(StockMovement.variant_id == variant_id)))
        db.session.remove()
    assert {"received", "sale"} <= reasons
    assert level.on_hand >= level.reserved
