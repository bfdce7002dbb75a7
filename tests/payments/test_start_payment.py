"""Starting a payment at checkout: the PaymentIntent (or hosted Checkout Session) in Stripe,
what the client gets back, and the idempotency keys derived from the order."""

from __future__ import annotations

from datetime import timedelta

import pytest
import stripe
from sqlalchemy import select

from shop.db import as_utc, utcnow
from shop.errors import Conflict, ServiceUnavailable, ValidationFailed
from shop.orders.models import Order, StockReservation
from shop.payments import services as payments
from shop.payments.models import Payment
from tests.carts.factories import make_variant, place_order
from tests.fixtures.auth import bearer_for, make_user
from tests.fixtures.stripe import PUBLISHABLE_KEY
from tests.payments.helpers import cart_with, checkout


def test_guest_checkout_creates_a_payment_intent_for_the_amount_due(
    client, db_session, use_localstripe
):
    variant = make_variant(db_session, price=1850)
    body = checkout(client, cart_with(client, variant, 2))
    payment, order = body["payment"], body["order"]
    assert payment["provider"] == "stripe" and payment["flow"] == "payment_intent"
    assert payment["publishable_key"] == PUBLISHABLE_KEY
    assert payment["amount"] == {"amount": 3700, "currency": "GBP"}
    assert payment["client_secret"].startswith(payment["payment_intent_id"] + "_secret_")
    assert payment["customer_id"] is None and payment["customer_session_client_secret"] is None
    intent = use_localstripe.client.v1.payment_intents.retrieve(payment["payment_intent_id"])
    assert (intent.amount, intent.currency) == (3700, "gbp")
    assert intent.metadata.to_dict() == {"order_id": str(order["id"]),
                                         "order_number": order["number"]}
    row = db_session.scalar(select(Payment).where(Payment.order_id == order["id"]))
    assert (row.status, row.attempt, row.payment_intent_id) == \
        ("requires_payment_method", 1, intent.id)


def test_the_idempotency_key_is_derived_from_the_order_and_attempt(
    client, db_session, use_localstripe
):
    variant = make_variant(db_session, price=1000)
    body = checkout(client, cart_with(client, variant))
    order = body["order"]
    # Stripe answers a repeat of the same key and parameters with the object it made first.
    again = use_localstripe.client.v1.payment_intents.create(
        params={"amount": 1000, "currency": "gbp", "payment_method_types": ["card"],
                "metadata": {"order_id": str(order["id"]), "order_number": order["number"]}},
        options={"idempotency_key": f"order-{order['id']}-attempt-1"},
    )
    assert again.id == body["payment"]["payment_intent_id"]


def test_starting_again_hands_out_the_same_payment(db_session, use_localstripe):
    placed = place_order(db_session, [(make_variant(db_session), 1)])
    first = payments.start_payment(session=db_session, order=placed.order, user=None)
    second = payments.start_payment(session=db_session, order=placed.order, user=None)
    assert second["payment_intent_id"] == first["payment_intent_id"]
    assert second["client_secret"] == first["client_secret"]
    assert len(db_session.scalars(select(Payment)
                                  .where(Payment.order_id == placed.order.id)).all()) == 1


def test_an_order_placed_now_starts_its_first_attempt_without_looking_for_others(
    db_session, use_localstripe, count_queries
):
    placed = place_order(db_session, [(make_variant(db_session), 1)])
    count_queries.count = 0
    payment = payments.start_payment(session=db_session, order=placed.order, user=None,
                                     placed_now=True)
    assert count_queries.count == 1  # the payment's INSERT, nothing read
    row = db_session.scalar(select(Payment).where(Payment.order_id == placed.order.id))
    assert (row.attempt, row.payment_intent_id) == (1, payment["payment_intent_id"])


def test_signed_in_customers_get_a_stripe_customer_and_customer_session(
    client, db_session, use_localstripe
):
    user = make_user(db_session, name="Grace Hopper")
    headers = bearer_for(db_session, user)
    variant = make_variant(db_session, stock=5)
    first = checkout(client, cart_with(client, variant, headers=headers), headers)["payment"]
    db_session.refresh(user)
    assert first["customer_id"] and first["customer_id"] == user.stripe_customer_id
    assert first["customer_session_client_secret"].startswith("cuss_secret_")
    assert first["ephemeral_key_secret"] is None
    intent = use_localstripe.client.v1.payment_intents.retrieve(first["payment_intent_id"])
    assert intent.customer == user.stripe_customer_id
    customer = use_localstripe.client.v1.customers.retrieve(user.stripe_customer_id)
    assert (customer.email, customer.metadata.user_id) == (user.email, str(user.id))
    second = checkout(client, cart_with(client, variant, headers=headers), headers)["payment"]
    assert second["customer_id"] == first["customer_id"]


def test_an_ephemeral_key_is_added_when_its_api_version_is_configured(
    client, db_session, use_localstripe, app, monkeypatch
):
    monkeypatch.setitem(app.config, "STRIPE_EPHEMERAL_KEY_VERSION", "2024-06-20")
    headers = bearer_for(db_session, make_user(db_session))
    payment = checkout(client, cart_with(client, make_variant(db_session), headers=headers),
                       headers)["payment"]
    assert payment["ephemeral_key_secret"].startswith("ek_test_")


def test_a_customer_missing_from_stripe_is_created_again(db_session, use_localstripe):
    user = make_user(db_session)
    user.stripe_customer_id = "cus_from_another_account"
    placed = place_order(db_session, [(make_variant(db_session), 1)], user=user)
    payment = payments.start_payment(session=db_session, order=placed.order, user=user)
    assert payment["customer_id"] == user.stripe_customer_id != "cus_from_another_account"
    assert use_localstripe.client.v1.customers.retrieve(user.stripe_customer_id).email \
        == user.email


def test_hosted_flow_makes_a_checkout_session_that_lives_as_long_as_the_reservation(
    client, db_session, use_localstripe
):
    variant = make_variant(db_session, price=2500)
    body = checkout(client, cart_with(client, variant), payment_flow="hosted",
                    success_url="http://localhost:3000/paid",
                    cancel_url="http://localhost:3000/cart")
    payment, order_id = body["payment"], body["order"]["id"]
    assert payment["flow"] == "hosted" and payment["payment_intent_id"] is None
    row = db_session.scalar(select(Payment).where(Payment.order_id == order_id))
    checkout_session = use_localstripe.client.v1.checkout.sessions.retrieve(
        row.checkout_session_id)
    assert payment["checkout_url"] == checkout_session.url
    assert (checkout_session.amount_total, checkout_session.currency) == (2500, "gbp")
    assert checkout_session.success_url == "http://localhost:3000/paid"
    assert checkout_session.metadata.order_id == str(order_id)
    # Stripe's minimum session life is 30 minutes; the 15-minute reservation was stretched
    order = db_session.get(Order, order_id)
    db_session.refresh(order)
    expires = as_utc(order.reservation_expires_at)
    assert int(expires.timestamp()) == checkout_session.expires_at
    assert expires >= utcnow() + timedelta(minutes=30)
    held = db_session.scalars(select(StockReservation)
                              .where(StockReservation.order_id == order_id)).all()
    assert [as_utc(r.expires_at) for r in held] == [expires]


@pytest.mark.parametrize("url", ["https://evil.example/paid", "javascript:alert(1)",
                                 "ftp://localhost/x"])
def test_hosted_return_urls_must_be_storefront_origins(app, db_session, url):
    with app.test_request_context(), pytest.raises(ValidationFailed) as refused:
        payments.check_return_urls(flow="hosted", success_url=url,
                                   cancel_url="http://localhost:8080/cart")
    assert refused.value.code == "return_url_not_allowed"
    assert list(refused.value.errors) == ["success_url"]


def test_configured_origins_replace_the_development_defaults(app, monkeypatch):
    monkeypatch.setitem(app.config, "CHECKOUT_ALLOWED_ORIGINS", ["https://shop.example"])
    with app.test_request_context():
        payments.check_return_urls(flow="hosted", success_url="https://shop.example/ok",
                                   cancel_url="https://SHOP.example/cart")
        with pytest.raises(ValidationFailed):
            payments.check_return_urls(flow="hosted", success_url="http://localhost/ok",
                                       cancel_url="https://shop.example/cart")


def test_cors_origins_are_the_default_and_production_has_no_localhost(app, monkeypatch):
    monkeypatch.setitem(app.config, "CORS_ORIGINS", ["https://glow.example"])
    monkeypatch.setitem(app.config, "SHOP_ENV", "production")
    with app.test_request_context():
        payments.check_return_urls(flow="hosted", success_url="https://glow.example/ok",
                                   cancel_url="https://glow.example/cart")
        with pytest.raises(ValidationFailed):
            payments.check_return_urls(flow="hosted", success_url="http://localhost/ok",
                                       cancel_url="https://glow.example/cart")


def test_stripe_errors_about_connectivity_become_503(app, db_session, monkeypatch):
    for key, value in {"STRIPE_SECRET_KEY": "sk_test_x", "STRIPE_API_BASE": "http://127.0.0.1:9",
                       "STRIPE_MAX_RETRIES": 0}.items():
        monkeypatch.setitem(app.config, key, value)
    placed = place_order(db_session, [(make_variant(db_session), 1)])
    with pytest.raises(ServiceUnavailable) as unavailable:
        payments.start_payment(session=db_session, order=placed.order, user=None)
    assert unavailable.value.code == "payment_provider_unavailable"
    assert isinstance(unavailable.value.__cause__, stripe.APIConnectionError)


def test_stripe_refusing_the_payment_is_a_409_not_a_500(db_session, use_localstripe):
    placed = place_order(db_session, [(make_variant(db_session, price=1000), 1)])
    # the same idempotency key already made something else (say, a database restored from a
    # backup handing out order ids again): Stripe refuses, and so do we, cleanly
    use_localstripe.client.v1.payment_intents.create(
        params={"amount": 50, "currency": "gbp"},
        options={"idempotency_key": f"order-{placed.order.id}-attempt-1"})
    with pytest.raises(Conflict) as refused:
        payments.start_payment(session=db_session, order=placed.order, user=None)
    assert refused.value.code == "payment_refused"
