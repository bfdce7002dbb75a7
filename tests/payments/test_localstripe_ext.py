"""The localstripe extension behaves as Stripe documents (each test names the page), so the
shop's Stripe code is tested against Stripe's behaviour, not against a fake's gaps."""

from __future__ import annotations

import os
import time

import pytest
import requests
import stripe

from tests.fixtures.stripe import CARD_DECLINED, CARD_DISPUTED, CARD_OK, CARD_REFUND_FAILS


def wait_for_events(localstripe, type_: str, object_id: str, count: int = 1,
                    timeout: float = 5.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        found = [e for e in localstripe.events(type_) if e["data"]["object"]["id"] == object_id]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def new_intent(localstripe, amount: int = 1500, **params) -> stripe.PaymentIntent:
    return localstripe.client.v1.payment_intents.create(params={
        "amount": amount, "currency": "gbp", "payment_method_types": ["card"], **params})


def paid_intent(localstripe, amount: int = 1500, card: str = CARD_OK) -> dict:
    intent = new_intent(localstripe, amount)
    paid = localstripe.pay(intent.client_secret, card=card)
    assert paid["status"] == "succeeded"
    return paid


def test_localstripe_listens_on_loopback_without_persistence(localstripe):
    # STRIPE-TESTING.md: the stock server binds every interface and pickles its store to
    # /tmp/localstripe.pickle on every write. Ours does neither.
    assert localstripe.url.startswith("http://127.0.0.1:")
    before = os.stat("/tmp/localstripe.pickle").st_mtime_ns \
        if os.path.exists("/tmp/localstripe.pickle") else None
    new_intent(localstripe)
    after = os.stat("/tmp/localstripe.pickle").st_mtime_ns \
        if os.path.exists("/tmp/localstripe.pickle") else None
    assert after == before


# docs.stripe.com/api/idempotent_requests


def test_same_idempotency_key_and_parameters_return_the_first_result(localstripe):
    params = {"amount": 1234, "currency": "gbp", "payment_method_types": ["card"]}
    options = {"idempotency_key": f"ext-test-{time.time_ns()}"}
    first = localstripe.client.v1.payment_intents.create(params=params, options=options)
    again = localstripe.client.v1.payment_intents.create(params=params, options=options)
    assert again.id == first.id
    assert again.last_response.headers.get("Idempotent-Replayed") == "true"


def test_idempotency_compares_parameters_not_their_encoding_order(localstripe):
    key = {"Idempotency-Key": f"ext-test-{time.time_ns()}"}
    first = localstripe.http.post(f"{localstripe.url}/v1/customers", headers=key,
                                  data=[("email", "x@example.com"), ("name", "X")], timeout=5)
    again = localstripe.http.post(f"{localstripe.url}/v1/customers", headers=key,
                                  data=[("name", "X"), ("email", "x@example.com")], timeout=5)
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]


def test_same_idempotency_key_with_other_parameters_is_refused(localstripe):
    options = {"idempotency_key": f"ext-test-{time.time_ns()}"}
    localstripe.client.v1.payment_intents.create(
        params={"amount": 1234, "currency": "gbp"}, options=options)
    with pytest.raises(stripe.IdempotencyError):
        localstripe.client.v1.payment_intents.create(
            params={"amount": 999, "currency": "gbp"}, options=options)


def test_a_request_refused_before_it_ran_can_be_retried_with_its_key(localstripe):
    options = {"idempotency_key": f"ext-test-{time.time_ns()}"}
    with pytest.raises(stripe.InvalidRequestError):
        localstripe.client.v1.payment_intents.create(
            params={"amount": 0, "currency": "gbp"}, options=options)
    with pytest.raises(stripe.InvalidRequestError):  # not replayed as saved: it ran again
        localstripe.client.v1.payment_intents.create(
            params={"amount": 0, "currency": "gbp"}, options=options)


# docs.stripe.com/payments/paymentintents/lifecycle


def test_a_declined_intent_can_be_paid_with_another_card(localstripe):
    intent = new_intent(localstripe)
    declined = localstripe.pay(intent.client_secret, card=CARD_DECLINED)
    assert declined["status"] == "requires_payment_method"
    assert declined["last_payment_error"]["code"] == "card_declined"
    retried = localstripe.pay(intent.client_secret, card=CARD_OK)
    assert retried["status"] == "succeeded"
    assert retried["amount_received"] == 1500
    assert wait_for_events(localstripe, "payment_intent.payment_failed", intent.id)
    assert wait_for_events(localstripe, "payment_intent.succeeded", intent.id)


def test_the_generic_decline_card_is_declined(localstripe):
    declined = localstripe.pay(new_intent(localstripe).client_secret, card="4000000000000002")
    assert declined["status"] == "requires_payment_method"
    assert declined["last_payment_error"]["code"] == "card_declined"


def test_an_unpaid_intent_has_received_nothing(localstripe):
    assert new_intent(localstripe).amount_received == 0


def test_cancelling_sends_payment_intent_canceled(localstripe):
    intent = new_intent(localstripe)
    canceled = localstripe.client.v1.payment_intents.cancel(
        intent.id, params={"cancellation_reason": "abandoned"})
    assert canceled.status == "canceled"
    assert canceled.cancellation_reason == "abandoned"
    assert wait_for_events(localstripe, "payment_intent.canceled", intent.id)


def test_a_succeeded_intent_cannot_be_cancelled(localstripe):
    paid = paid_intent(localstripe)
    with pytest.raises(stripe.InvalidRequestError) as refused:
        localstripe.client.v1.payment_intents.cancel(paid["id"])
    assert refused.value.code == "payment_intent_unexpected_state"


# docs.stripe.com/api/refunds/create, docs.stripe.com/testing#refunds


def test_refunds_never_exceed_the_charge(localstripe):
    paid = paid_intent(localstripe, amount=2000)
    client = localstripe.client
    client.v1.refunds.create(params={"payment_intent": paid["id"], "amount": 1500})
    with pytest.raises(stripe.InvalidRequestError) as too_large:
        client.v1.refunds.create(params={"payment_intent": paid["id"], "amount": 501})
    assert too_large.value.code == "amount_too_large"
    rest = client.v1.refunds.create(params={"payment_intent": paid["id"]})
    assert rest.amount == 500
    with pytest.raises(stripe.InvalidRequestError) as done:
        client.v1.refunds.create(params={"payment_intent": paid["id"], "amount": 1})
    assert done.value.code == "charge_already_refunded"


def test_a_refund_sends_refund_created_and_charge_refunded(localstripe):
    paid = paid_intent(localstripe)
    refund = localstripe.client.v1.refunds.create(
        params={"payment_intent": paid["id"], "amount": 700, "reason": "requested_by_customer"})
    assert (refund.status, refund.payment_intent, refund.reason) == \
        ("succeeded", paid["id"], "requested_by_customer")
    assert wait_for_events(localstripe, "refund.created", refund.id)
    charge_id = paid["latest_charge"]["id"]
    [event] = wait_for_events(localstripe, "charge.refunded", charge_id)
    assert event["data"]["object"]["amount_refunded"] == 700


def test_card_5126_refunds_fail_later(localstripe):
    paid = paid_intent(localstripe, card=CARD_REFUND_FAILS)
    refund = localstripe.client.v1.refunds.create(params={"payment_intent": paid["id"]})
    assert refund.status == "succeeded"
    [failed] = wait_for_events(localstripe, "refund.failed", refund.id)
    assert failed["data"]["object"]["status"] == "failed"
    assert wait_for_events(localstripe, "refund.updated", refund.id)
    # the failed refund gave nothing back: the whole charge can still be refunded
    again = localstripe.client.v1.refunds.create(params={"payment_intent": paid["id"]})
    assert again.amount == 1500


# docs.stripe.com/testing#disputes


def test_card_0259_payments_are_disputed(localstripe):
    paid = paid_intent(localstripe, card=CARD_DISPUTED)
    deadline = time.monotonic() + 5
    disputes = []
    while not disputes and time.monotonic() < deadline:
        disputes = [e for e in localstripe.events("charge.dispute.created")
                    if e["data"]["object"]["payment_intent"] == paid["id"]]
        time.sleep(0.1)
    [event] = disputes
    dispute = localstripe.client.v1.disputes.retrieve(event["data"]["object"]["id"])
    assert (dispute.reason, dispute.status, dispute.amount) == \
        ("fraudulent", "needs_response", 1500)


# docs.stripe.com/api/checkout/sessions


def session_params(**overrides) -> dict:
    return {
        "mode": "payment", "success_url": "https://shop.example/paid?s={CHECKOUT_SESSION_ID}",
        "cancel_url": "https://shop.example/cart",
        "line_items": [{"quantity": 2, "price_data": {
            "currency": "gbp", "unit_amount": 1250, "product_data": {"name": "Serum"}}}],
        "payment_intent_data": {"metadata": {"order_id": "42"}},
        **overrides,
    }


@pytest.mark.parametrize("seconds", [60, 29 * 60, 25 * 3600])
def test_checkout_sessions_expire_between_30_minutes_and_24_hours(localstripe, seconds):
    with pytest.raises(stripe.InvalidRequestError) as refused:
        localstripe.client.v1.checkout.sessions.create(
            params=session_params(expires_at=int(time.time()) + seconds))
    assert refused.value.param == "expires_at"


def test_checkout_session_needs_one_of_customer_or_customer_email(localstripe):
    customer = localstripe.client.v1.customers.create(params={"email": "a@example.com"})
    with pytest.raises(stripe.InvalidRequestError):
        localstripe.client.v1.checkout.sessions.create(
            params=session_params(customer=customer.id, customer_email="a@example.com"))


def test_paying_a_checkout_session_completes_it(localstripe):
    created = localstripe.client.v1.checkout.sessions.create(params=session_params(
        expires_at=int(time.time()) + 3600))
    assert (created.status, created.payment_status, created.amount_total, created.payment_intent) \
        == ("open", "unpaid", 2500, None)
    assert localstripe.pay_checkout(created.url, card=CARD_DECLINED).status_code == 402
    assert localstripe.pay_checkout(created.url).status_code == 200
    done = localstripe.client.v1.checkout.sessions.retrieve(created.id)
    assert (done.status, done.payment_status) == ("complete", "paid")
    intent = localstripe.client.v1.payment_intents.retrieve(done.payment_intent)
    assert (intent.status, intent.metadata.to_dict()) == ("succeeded", {"order_id": "42"})
    assert wait_for_events(localstripe, "checkout.session.completed", created.id)
    with pytest.raises(stripe.InvalidRequestError):
        localstripe.client.v1.checkout.sessions.expire(created.id)


def test_the_hosted_page_redirects_to_the_success_url(localstripe):
    created = localstripe.client.v1.checkout.sessions.create(params=session_params())
    page = requests.get(created.url, timeout=5)
    assert page.status_code == 200 and "Pay" in page.text
    paid = requests.post(created.url, data={"card": CARD_OK}, allow_redirects=False, timeout=5)
    assert paid.status_code == 303
    assert paid.headers["Location"] == f"https://shop.example/paid?s={created.id}"


def test_an_expired_checkout_session_cannot_be_paid(localstripe):
    created = localstripe.client.v1.checkout.sessions.create(params=session_params())
    assert localstripe.client.v1.checkout.sessions.expire(created.id).status == "expired"
    assert wait_for_events(localstripe, "checkout.session.expired", created.id)
    assert localstripe.pay_checkout(created.url).status_code == 400


# docs.stripe.com/api/customer_sessions/create, docs.stripe.com/api/ephemeral_keys


def test_customer_sessions_need_a_customer_and_an_enabled_component(localstripe):
    client = localstripe.client
    customer = client.v1.customers.create(params={"email": "b@example.com"})
    made = client.v1.customer_sessions.create(params={
        "customer": customer.id,
        "components": {"mobile_payment_element": {"enabled": True}}})
    assert made.client_secret.startswith("cuss_secret_")
    assert made.components.mobile_payment_element.enabled is True
    assert made.components.payment_element.enabled is False
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.customer_sessions.create(params={
            "customer": customer.id, "components": {"payment_element": {"enabled": False}}})
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.customer_sessions.create(params={
            "customer": "cus_missing", "components": {"payment_element": {"enabled": True}}})


def test_ephemeral_keys_belong_to_a_customer(localstripe):
    customer = localstripe.client.v1.customers.create(params={"email": "c@example.com"})
    key = localstripe.client.v1.ephemeral_keys.create(
        params={"customer": customer.id}, options={"stripe_version": "2024-06-20"})
    assert key.secret.startswith("ek_test_")
    assert key.associated_objects[0].id == customer.id


# docs.stripe.com/error-codes#email-invalid


def test_a_customer_email_that_is_not_an_address_is_refused(localstripe):
    customers = localstripe.client.v1.customers
    with pytest.raises(stripe.InvalidRequestError) as refused:
        customers.create(params={"email": "not an address"})
    assert (refused.value.code, refused.value.param) == ("email_invalid", "email")
    customer = customers.create(params={"email": "d@example.com"})
    with pytest.raises(stripe.InvalidRequestError):
        customers.update(customer.id, params={"email": "d@"})
    assert customers.update(customer.id, params={"email": "e@example.com"}).email \
        == "e@example.com"
