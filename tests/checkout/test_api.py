"""Checkout over HTTP: validation, refusals, free orders, and a payment provider that is down.

Paying through Stripe end to end (localstripe) is covered by the payments tests.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from shop.carts.models import Cart
from shop.orders.models import Order
from tests.carts.factories import ADDRESS, level, make_variant


def cart_with(client, items, headers=None) -> str:
    cart_id = client.post("/api/v1/carts", headers=headers or {}).json["id"]
    for variant, quantity in items:
        response = client.post(f"/api/v1/carts/{cart_id}/items", headers=headers or {},
                               json={"sku": variant.sku, "quantity": quantity})
        assert response.status_code == 201, response.json
    return cart_id


def checkout(client, cart_id, headers=None, **body):
    body.setdefault("email", "guest@example.com")
    return client.post(f"/api/v1/carts/{cart_id}/checkout", json=body, headers=headers or {})


@pytest.fixture
def stripe_unreachable(app, monkeypatch):
    """Point the Stripe client at a closed loopback port."""
    for key, value in {"STRIPE_SECRET_KEY": "sk_test_unreachable",
                       "STRIPE_API_BASE": "http://127.0.0.1:9", "STRIPE_MAX_RETRIES": 0,
                       "STRIPE_TIMEOUT_SECONDS": 2}.items():
        monkeypatch.setitem(app.config, key, value)


def test_shipping_methods_are_listed_with_prices(client):
    response = client.get("/api/v1/shipping-methods")
    assert response.status_code == 200
    methods = {m["code"]: m for m in response.json["items"]}
    assert list(methods) == ["uk-standard", "uk-next-day", "click-and-collect"]
    assert methods["uk-standard"]["price"] == {"amount": 395, "currency": "GBP"}
    assert methods["uk-standard"]["free_from"] == {"amount": 4000, "currency": "GBP"}
    assert methods["uk-next-day"]["price"]["amount"] == 695
    assert methods["uk-next-day"]["free_from"] is None
    assert methods["click-and-collect"]["price"]["amount"] == 0
    assert methods["click-and-collect"]["requires_address"] is False


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"shipping_method": "uk-standard",
          "shipping_address": {**ADDRESS, "postcode": "NOT A CODE"}}, "postcode"),
        ({"shipping_method": "uk-standard", "shipping_address": {**ADDRESS, "country": "FR"}},
         "country"),
        ({"shipping_method": "click-and-collect", "payment_flow": "hosted"}, "success_url"),
        ({"shipping_method": "click-and-collect", "payment_flow": "cash"}, "payment_flow"),
        ({"shipping_method": "click-and-collect", "email": "not-an-email"}, "email"),
        ({"shipping_method": "uk-standard"}, "shipping_address"),
        ({}, "shipping_method"),
    ],
)
def test_checkout_validates_its_body(client, db_session, body, field):
    cart_id = cart_with(client, [(make_variant(db_session), 1)])
    response = checkout(client, cart_id, **body)
    assert response.status_code == 422, response.json
    assert field in str(response.json["errors"])


def test_postcodes_are_normalised(client, db_session, app, monkeypatch):
    monkeypatch.setitem(app.config, "FREE_SHIPPING_THRESHOLD", 0)  # a free order: no Stripe
    cart_id = cart_with(client, [(make_variant(db_session, price=0), 1)])
    response = checkout(client, cart_id, shipping_method="uk-standard",
                        shipping_address={**ADDRESS, "postcode": "w1g9qd"})
    assert response.status_code == 201, response.json
    assert response.json["order"]["shipping"]["address"]["postcode"] == "W1G 9QD"


def test_a_cart_with_problems_is_refused_and_holds_nothing(client, db_session):
    variant = make_variant(db_session, stock=2)
    cart_id = cart_with(client, [(variant, 2)])
    cart_with(client, [(variant, 1)])  # another cart; then the stock drops under ours
    variant.stock_level.reserved = 1
    db_session.flush()
    response = checkout(client, cart_id, shipping_method="click-and-collect")
    assert response.status_code == 409 and response.json["code"] == "cart_not_purchasable"
    assert response.json["items"][0]["problems"] == ["insufficient_stock"]
    assert level(db_session, variant.id).reserved == 1
    assert db_session.get(Cart, cart_id).status == "open"


def test_a_free_order_is_paid_without_stripe(client, db_session):
    sample = make_variant(db_session, price=0, stock=3)
    cart_id = cart_with(client, [(sample, 2)])
    response = checkout(client, cart_id, shipping_method="click-and-collect")
    assert response.status_code == 201, response.json
    body = response.json
    assert body["payment"] is None and body["access_token"]
    order = body["order"]
    assert order["status"] == "paid" and order["number"].startswith("GLW-")
    assert order["totals"]["amount_due"] == {"amount": 0, "currency": "GBP"}
    assert order["shipping"] == {"method": "click-and-collect",
                                 "name": "Click and collect at the clinic",
                                 "price": {"amount": 0, "currency": "GBP"}, "address": None}
    assert [e["type"] for e in order["events"]] == ["placed", "paid"]
    assert (level(db_session, sample.id).on_hand, level(db_session, sample.id).reserved) == (1, 0)
    guest_view = client.get(f"/api/v1/orders/{order['id']}?access_token={body['access_token']}")
    assert guest_view.status_code == 200 and guest_view.json["number"] == order["number"]


def test_a_retried_checkout_with_the_same_key_replays_the_same_order(client, db_session):
    cart_id = cart_with(client, [(make_variant(db_session, price=0), 1)])
    headers = {"Idempotency-Key": "checkout-retry-1"}
    first = checkout(client, cart_id, headers, shipping_method="click-and-collect")
    again = checkout(client, cart_id, headers, shipping_method="click-and-collect")
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json["order"]["id"] == first.json["order"]["id"]
    count = db_session.scalar(
        select(func.count()).select_from(Order).where(Order.cart_id == cart_id))
    assert count == 1
    without_key = checkout(client, cart_id, shipping_method="click-and-collect")
    assert without_key.status_code == 409 and without_key.json["code"] == "cart_not_open"


def test_stripe_down_cancels_the_order_and_reopens_the_cart(
    client, db_session, stripe_unreachable
):
    variant = make_variant(db_session, price=1500, stock=4)
    cart_id = cart_with(client, [(variant, 2)])
    response = checkout(client, cart_id, {"Idempotency-Key": "stripe-down-1"},
                        shipping_method="uk-next-day", shipping_address=ADDRESS)
    assert response.status_code == 503, response.json
    assert response.json["code"] == "payment_provider_unavailable"
    order = db_session.scalars(select(Order).where(Order.cart_id == cart_id)).one()
    assert order.status == "cancelled" and order.cancel_reason == "payment_provider_unavailable"
    assert level(db_session, variant.id).reserved == 0
    assert client.get(f"/api/v1/carts/{cart_id}").json["status"] == "open"
    retry = checkout(client, cart_id, {"Idempotency-Key": "stripe-down-1"},
                     shipping_method="uk-next-day", shipping_address=ADDRESS)
    assert retry.status_code == 503 and "Idempotent-Replayed" not in retry.headers


def test_a_customers_cart_cannot_be_checked_out_by_someone_else(
    client, db_session, customer_headers
):
    cart_id = cart_with(client, [(make_variant(db_session, price=0), 1)], customer_headers)
    assert checkout(client, cart_id, shipping_method="click-and-collect").status_code == 404
    mine = checkout(client, cart_id, customer_headers, shipping_method="click-and-collect")
    assert mine.status_code == 201 and mine.json["access_token"] is None


def test_a_foreign_return_url_is_refused_before_any_order_is_made(client, db_session):
    variant = make_variant(db_session, price=1500, stock=4)
    cart_id = cart_with(client, [(variant, 1)])
    response = checkout(client, cart_id, shipping_method="click-and-collect",
                        payment_flow="hosted", success_url="https://elsewhere.example/ok",
                        cancel_url="https://elsewhere.example/no")
    assert response.status_code == 422 and response.json["code"] == "return_url_not_allowed"
    assert set(response.json["errors"]) == {"success_url", "cancel_url"}
    assert db_session.scalars(select(Order).where(Order.cart_id == cart_id)).all() == []
    assert level(db_session, variant.id).reserved == 0
    assert client.get(f"/api/v1/carts/{cart_id}").json["status"] == "open"
