"""POST /orders/{id}/cancel: a customer who backs out of paying gives the stock back at once
(not when the reservation ends), against localstripe."""

from __future__ import annotations

from shop.carts.models import Cart
from shop.money import Money
from shop.vouchers import services as vouchers
from tests.accounts.test_api import assert_problem
from tests.carts.factories import level, make_variant
from tests.fixtures.auth import bearer_for, make_user
from tests.payments.helpers import (
    checkout,
    customer_email,
    order_with_intent,
    payment_of,
    reload_order,
)

STRIPE_DOWN = "http://127.0.0.1:9"


def cancel(client, placed: dict, *, token: str | None = "from the checkout", headers=None):
    token = placed["access_token"] if token == "from the checkout" else token
    query = f"?access_token={token}" if token else ""
    return client.post(f"/api/v1/orders/{placed['order']['id']}/cancel{query}",
                       headers=headers or {})


def test_a_guest_cancels_an_unpaid_order_and_the_stock_is_free_at_once(
    client, db_session, use_localstripe
):
    variant = make_variant(db_session, stock=2)
    placed = order_with_intent(client, variant, 2)
    assert level(db_session, variant.id).reserved == 2
    response = cancel(client, placed)
    assert response.status_code == 200, response.json
    assert (response.json["status"], response.json["cancel_reason"]) == \
        ("cancelled", "cancelled_by_customer")
    assert level(db_session, variant.id).reserved == 0
    intent = use_localstripe.client.v1.payment_intents.retrieve(
        placed["payment"]["payment_intent_id"])
    assert intent.status == "canceled"
    assert payment_of(db_session, placed["order"]["id"]).status == "canceled"
    order = reload_order(db_session, placed["order"]["id"])
    assert db_session.get(Cart, order.cart_id).status == "open"  # to change it and try again
    again = cancel(client, placed)
    assert (again.status_code, again.json["status"]) == (200, "cancelled")
    assert customer_email(db_session, f"order-cancelled:{order.id}") is None  # they know


def test_the_signed_in_owner_cancels_without_a_token_and_nobody_else_can(
    client, db_session, use_localstripe
):
    owner = bearer_for(db_session, make_user(db_session))
    placed = order_with_intent(client, make_variant(db_session), headers=owner)
    stranger = bearer_for(db_session, make_user(db_session))
    assert_problem(cancel(client, placed, token=None, headers=stranger), 404, "order_not_found")
    assert_problem(cancel(client, placed, token=None), 404, "order_not_found")
    assert reload_order(db_session, placed["order"]["id"]).status == "pending_payment"
    assert cancel(client, placed, token=None, headers=owner).status_code == 200


def test_a_wrong_token_finds_no_order(client, db_session, use_localstripe):
    placed = order_with_intent(client, make_variant(db_session))
    assert_problem(cancel(client, placed, token="ot_not-the-token"), 404, "order_not_found")


def test_a_paid_order_is_not_cancellable_here(client, db_session, use_localstripe):
    placed = order_with_intent(client, make_variant(db_session, stock=3))
    use_localstripe.pay(placed["payment"]["client_secret"])
    client.post(f"/api/v1/orders/{placed['order']['id']}/sync"
                f"?access_token={placed['access_token']}")
    assert reload_order(db_session, placed["order"]["id"]).status == "paid"
    assert_problem(cancel(client, placed), 409, "order_not_cancellable")


def test_paid_in_stripe_before_the_webhook_came_is_settled_as_paid_not_cancelled(
    client, db_session, use_localstripe
):
    use_localstripe.webhooks_off()
    variant = make_variant(db_session, stock=3)
    placed = order_with_intent(client, variant)
    use_localstripe.pay(placed["payment"]["client_secret"])
    assert reload_order(db_session, placed["order"]["id"]).status == "pending_payment"
    assert_problem(cancel(client, placed), 409, "order_not_cancellable")
    assert reload_order(db_session, placed["order"]["id"]).status == "paid"
    assert (level(db_session, variant.id).on_hand, level(db_session, variant.id).reserved) == \
        (2, 0)


def test_with_stripe_down_nothing_changes(client, db_session, use_localstripe, app,
                                          monkeypatch):
    variant = make_variant(db_session, stock=2)
    placed = order_with_intent(client, variant)
    monkeypatch.setitem(app.config, "STRIPE_API_BASE", STRIPE_DOWN)
    assert_problem(cancel(client, placed), 503, "payment_provider_unavailable")
    assert reload_order(db_session, placed["order"]["id"]).status == "pending_payment"
    assert level(db_session, variant.id).reserved == 1


def test_a_hosted_checkout_session_is_expired(client, db_session, use_localstripe):
    placed = order_with_intent(client, make_variant(db_session), payment_flow="hosted",
                               success_url="http://localhost:3000/paid",
                               cancel_url="http://localhost:3000/cart")
    assert cancel(client, placed).status_code == 200
    session_id = payment_of(db_session, placed["order"]["id"]).checkout_session_id
    assert use_localstripe.client.v1.checkout.sessions.retrieve(session_id).status == "expired"


def test_the_vouchers_held_for_the_order_are_released(client, db_session, use_localstripe):
    issued = vouchers.issue(session=db_session, kind="money", value=Money(1500, "GBP"))
    variant = make_variant(db_session, price=4000)
    cart_id = client.post("/api/v1/carts").json["id"]
    client.post(f"/api/v1/carts/{cart_id}/items", json={"sku": variant.sku, "quantity": 1})
    applied = client.post(f"/api/v1/carts/{cart_id}/vouchers", json={"code": issued.code})
    assert applied.status_code in (200, 201), applied.json
    placed = checkout(client, cart_id)
    db_session.refresh(issued.voucher)
    assert issued.voucher.available == Money(0, "GBP")
    assert cancel(client, placed).status_code == 200
    db_session.refresh(issued.voucher)
    assert issued.voucher.available == Money(1500, "GBP")
