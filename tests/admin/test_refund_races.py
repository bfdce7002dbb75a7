"""Concurrent refunds of one order (PostgreSQL, localstripe): together they never exceed
what was paid, by amount or by line, because each is computed under the order's row lock."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from shop.admin.models import OrderRefund
from shop.extensions import db
from shop.payments.models import Refund
from shop.vouchers.models import Voucher
from tests.admin.factories import make_variant
from tests.fixtures.auth import bearer_for, make_user

pytestmark = [pytest.mark.postgresql_only, pytest.mark.slow]
THREADS = 8


@pytest.fixture
def race_app(pooled_app, stripe_settings, localstripe):
    localstripe.reset()
    return pooled_app(THREADS + 4, **stripe_settings)


def paid_order(app, localstripe, *, price: int, quantity: int) -> tuple[dict, dict]:
    """Admin headers, and an order paid on localstripe through the real HTTP flow."""
    with app.app_context():
        variant = make_variant(db.session, price=price, stock=10)
        headers = bearer_for(db.session, make_user(db.session, role="admin"))
        sku = variant.sku
        db.session.commit()
        db.session.remove()
    client = app.test_client()
    cart_id = client.post("/api/v1/carts").json["id"]
    client.post(f"/api/v1/carts/{cart_id}/items", json={"sku": sku, "quantity": quantity})
    body = client.post(f"/api/v1/carts/{cart_id}/checkout", json={
        "email": "racer@example.com", "shipping_method": "click-and-collect"}).json
    localstripe.pay(body["payment"]["client_secret"])
    synced = client.post(f"/api/v1/orders/{body['order']['id']}/sync"
                         f"?access_token={body['access_token']}")
    assert synced.json["order"]["status"] == "paid"
    return headers, body


def refund_all_at_once(app, headers: dict, order_id: int, bodies: list[dict]) -> list[int]:
    def send(body: dict) -> int:
        response = app.test_client().post(f"/api/v1/admin/orders/{order_id}/refunds",
                                          json=body, headers=headers)
        assert response.status_code in (201, 409), response.get_data(as_text=True)
        return response.status_code

    with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
        return list(pool.map(send, bodies))


def refunded(app, localstripe, order_id: int, intent_id: str) -> tuple[int, int, int]:
    """(our staff refunds, the payments domain's card refunds, what Stripe refunded)."""
    with app.app_context():
        ours = db.session.scalar(select(func.coalesce(func.sum(OrderRefund.amount), 0))
                                 .where(OrderRefund.order_id == order_id))
        cards = db.session.scalar(select(func.coalesce(func.sum(Refund.amount), 0))
                                  .where(Refund.order_id == order_id))
        db.session.remove()
    listed = localstripe.client.v1.refunds.list(params={"payment_intent": intent_id,
                                                       "limit": 100})
    return int(ours), int(cards), sum(item.amount for item in listed.data)


def test_concurrent_amount_refunds_stop_at_what_was_paid(race_app, localstripe):
    headers, body = paid_order(race_app, localstripe, price=1100, quantity=2)  # 2200 paid
    order_id, intent = body["order"]["id"], body["payment"]["payment_intent_id"]
    bodies = [{"amount": {"amount": 880, "currency": "GBP"}, "reason": f"race {n}"}
              for n in range(THREADS)]
    statuses = refund_all_at_once(race_app, headers, order_id, bodies)
    assert sorted(statuses) == [201, 201] + [409] * (THREADS - 2)
    assert refunded(race_app, localstripe, order_id, intent) == (1760, 1760, 1760)


def test_concurrent_line_refunds_take_each_unit_once(race_app, localstripe):
    headers, body = paid_order(race_app, localstripe, price=700, quantity=3)
    order_id, intent = body["order"]["id"], body["payment"]["payment_intent_id"]
    line = body["order"]["lines"][0]["id"]
    bodies = [{"lines": [{"line_id": line, "quantity": 1}], "restock": True,
               "reason": f"race {n}"} for n in range(THREADS)]
    statuses = refund_all_at_once(race_app, headers, order_id, bodies)
    assert sorted(statuses) == [201] * 3 + [409] * (THREADS - 3)
    assert refunded(race_app, localstripe, order_id, intent) == (2100, 2100, 2100)


def test_concurrent_store_credit_and_card_refunds_never_pay_back_more_than_was_paid(
        race_app, localstripe):
    """Half the racers give store credit, half go to the card: together at most 2200, and one
    gift voucher per store-credit refund that went through, for exactly its amount."""
    headers, body = paid_order(race_app, localstripe, price=1100, quantity=2)
    order_id, intent = body["order"]["id"], body["payment"]["payment_intent_id"]
    bodies = [{"amount": {"amount": 880, "currency": "GBP"}, "reason": f"race {n}",
               "method": "store_credit" if n % 2 else "original"} for n in range(THREADS)]
    statuses = refund_all_at_once(race_app, headers, order_id, bodies)
    assert sorted(statuses) == [201, 201] + [409] * (THREADS - 2)
    ours, cards, at_stripe = refunded(race_app, localstripe, order_id, intent)
    with race_app.app_context():
        given = db.session.scalars(select(Voucher.initial_amount).join(
            OrderRefund, OrderRefund.store_credit_voucher_id == Voucher.id)
            .where(OrderRefund.order_id == order_id)).all()
        db.session.remove()
    assert ours == 1760 and cards == at_stripe == 1760 - sum(given)
    assert all(amount == 880 for amount in given)
