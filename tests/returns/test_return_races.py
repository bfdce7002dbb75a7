"""Concurrent returns (PostgreSQL, localstripe): a line is asked back at most once over, and a
return is refunded once, because both take the order's row lock first."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from shop.admin.models import OrderRefund
from shop.extensions import db
from shop.returns.models import OrderReturn
from tests.admin.conftest import Signed
from tests.fixtures.auth import bearer_for, make_user
from tests.returns.factories import ADMIN, ask, dispatched_order

pytestmark = [pytest.mark.postgresql_only, pytest.mark.slow]
THREADS = 6


@pytest.fixture
def race_app(pooled_app, stripe_settings, localstripe):
    localstripe.reset()
    return pooled_app(THREADS + 4, **stripe_settings)


def returnable_order(app, localstripe) -> tuple[dict, dict]:
    """An order for 2 units, paid and collected; and an admin's headers."""
    with app.app_context():
        staff = make_user(db.session, role="admin")
        signed = Signed(staff, bearer_for(db.session, staff))
        order = dispatched_order(app.test_client(), db.session, localstripe, signed)
        db.session.commit()
        db.session.remove()
    return order, signed.headers


def all_at_once(send, count: int) -> list[int]:
    with ThreadPoolExecutor(max_workers=count) as pool:
        return sorted(pool.map(lambda _: send(), range(count)))


def test_concurrent_requests_never_ask_a_line_back_twice(race_app, localstripe):
    order, _ = returnable_order(race_app, localstripe)

    def send() -> int:
        response = ask(race_app.test_client(), order, lines=[(order["line_id"], 2)])
        assert response.status_code in (201, 409), response.get_data(as_text=True)
        return response.status_code

    assert all_at_once(send, THREADS) == [201] + [409] * (THREADS - 1)
    with race_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(OrderReturn)
                                 .where(OrderReturn.order_id == order["id"])) == 1
        db.session.remove()


def test_concurrent_refunds_of_one_return_refund_it_once(race_app, localstripe):
    order, headers = returnable_order(race_app, localstripe)
    return_id = ask(race_app.test_client(), order).json["id"]

    def send() -> int:
        response = race_app.test_client().post(f"{ADMIN}/{return_id}/refund", json={},
                                               headers=headers)
        assert response.status_code in (200, 409), response.get_data(as_text=True)
        return response.status_code

    assert all_at_once(send, THREADS) == [200] + [409] * (THREADS - 1)
    with race_app.app_context():
        refunded = db.session.scalar(select(func.sum(OrderRefund.amount))
                                     .where(OrderRefund.order_id == order["id"]))
        db.session.remove()
    listed = localstripe.client.v1.refunds.list(params={"payment_intent": order["intent"]})
    assert refunded == 1100 and [item.amount for item in listed.data] == [1100]
