"""Payments as the other domains call them: start, cancel, refund, sync with Stripe.

`start_payment` runs after the order and its stock reservation are committed and outside
any row lock (a slow Stripe never holds stock rows). Every object it creates in Stripe uses
an idempotency key derived from our own ids, so a retried call finds the same object.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from urllib.parse import urlsplit

import stripe
from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shop.accounts.models import User
from shop.db import as_utc, insert_now, utcnow
from shop.errors import Conflict, ValidationFailed
from shop.orders import services as orders
from shop.orders.models import Order, StockReservation
from shop.payments import transitions
from shop.payments.client import as_dict, is_missing, provider_errors, stripe_client
from shop.payments.models import FLOWS, Payment
from shop.payments.refunds import refund, refundable_amount  # noqa: F401  (public API)
from shop.payments.transitions import on_dispute  # noqa: F401  (public API)

log = logging.getLogger(__name__)
# Stripe refuses Checkout Sessions that expire sooner than 30 minutes or later than 24 hours
# after creation; a minute of margin on each side.
SESSION_MIN_LIFETIME = timedelta(minutes=31)
SESSION_MAX_LIFETIME = timedelta(hours=23, minutes=59)
LOCAL_HOSTS = ("localhost", "127.0.0.1")
# Stripe refuses card charges below these (docs.stripe.com: minimum and maximum charge amounts).
MINIMUM_CHARGE = {"GBP": 30, "EUR": 50, "USD": 50}


def minimum_charge(currency: str) -> int:
    """The smallest amount the card may be asked to pay, in minor units."""
    return MINIMUM_CHARGE.get(currency.upper(), 50)


def allowed_origins(config) -> list[str]:
    """CHECKOUT_ALLOWED_ORIGINS, or by default CORS_ORIGINS (plus localhost in development)."""
    return [origin.rstrip("/").lower()
            for origin in (config["CHECKOUT_ALLOWED_ORIGINS"] or config["CORS_ORIGINS"])]


def _origin_allowed(url: str, config) -> bool:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    if f"{parts.scheme}://{parts.netloc}".lower() in allowed_origins(config):
        return True
    return (config["SHOP_ENV"] != "production" and not config["CHECKOUT_ALLOWED_ORIGINS"]
            and parts.scheme == "http" and parts.hostname in LOCAL_HOSTS)


def check_return_urls(*, flow: str, success_url: str | None, cancel_url: str | None) -> None:
    """The hosted page may only send the customer back to one of our own storefronts."""
    if flow not in FLOWS:
        raise ValidationFailed(errors={"payment_flow": [f"Must be one of {', '.join(FLOWS)}."]})
    if flow != "hosted":
        return
    config = current_app.config
    errors = {
        name: ["Must be a URL on one of the shop's storefront origins."]
        for name, url in (("success_url", success_url), ("cancel_url", cancel_url))
        if not url or not _origin_allowed(url, config)
    }
    if errors:
        raise ValidationFailed("Return URLs must point at the shop's own storefront.",
                               code="return_url_not_allowed", errors=errors)


def start_payment(*, session: Session, order: Order, user: User | None,
                  flow: str = "payment_intent", success_url: str | None = None,
                  cancel_url: str | None = None, placed_now: bool = False) -> dict:
    """Create the order's PaymentIntent (or hosted Checkout Session); return what the client
    needs to pay. Raises ServiceUnavailable(payment_provider_unavailable) if Stripe is down.
    An order `placed_now` (by this request) has no payment yet: its first attempt needs no
    look-up of earlier ones."""
    check_return_urls(flow=flow, success_url=success_url, cancel_url=cancel_url)
    attempt = 1
    if not placed_now:
        current = transitions.latest_payment(session, order.id)
        if current is not None and not current.is_terminal:
            if current.flow != flow:
                raise Conflict("This order already has a payment in progress.",
                               code="payment_in_progress")
            return _resume(current)
        attempt = (session.scalar(select(func.max(Payment.attempt))
                                  .where(Payment.order_id == order.id)) or 0) + 1
    payment = Payment(order_id=order.id, provider="stripe", flow=flow, amount=order.amount_due,
                      currency=order.currency, attempt=attempt,
                      customer_id=_customer_for(session, user) if user else None)
    try:
        details = _create_in_stripe(session, order, payment, success_url, cancel_url)
    except StaleCustomer:
        payment.customer_id = _customer_for(session, user, replace=True)
        details = _create_in_stripe(session, order, payment, success_url, cancel_url,
                                    key_suffix="-new-customer")
    insert_now(session, payment)
    return payment_details(payment, **details)


def _create_in_stripe(session: Session, order: Order, payment: Payment,
                      success_url: str | None, cancel_url: str | None,
                      key_suffix: str = "") -> dict:
    if payment.flow == "hosted":
        checkout = _create_checkout_session(session, order, payment, success_url, cancel_url,
                                            key_suffix)
        payment.checkout_session_id, payment.status = checkout["id"], "open"
        return {"checkout_url": checkout["url"]}
    intent = _create_intent(order, payment, key_suffix)
    payment.payment_intent_id, payment.status = intent["id"], intent["status"]
    return {"client_secret": intent["client_secret"], **_wallet_secrets(payment.customer_id)}


def payment_details(payment: Payment, **details) -> dict:
    return {
        "provider": payment.provider, "flow": payment.flow,
        "payment_intent_id": payment.payment_intent_id,
        "client_secret": None, "publishable_key": current_app.config["STRIPE_PUBLISHABLE_KEY"],
        "customer_id": payment.customer_id, "customer_session_client_secret": None,
        "ephemeral_key_secret": None, "checkout_url": None,
        "amount": {"amount": payment.amount, "currency": payment.currency},
        **details,
    }


def _idempotency_key(payment: Payment, what: str = "") -> str:
    return f"order-{payment.order_id}-attempt-{payment.attempt}{what}"


class StaleCustomer(Exception):
    """The Stripe Customer we stored no longer exists (another account, a wiped test mode)."""


@contextmanager
def _refusals(payment: Payment) -> Iterator[None]:
    """Stripe refused what we asked for: a vanished customer is replaced by the caller; any
    other refusal (an amount below Stripe's minimum, a reused idempotency key) is a 409."""
    try:
        yield
    except stripe.InvalidRequestError as exc:
        if payment.customer_id and is_missing(exc):
            raise StaleCustomer(payment.customer_id) from exc
        log.error("stripe refused a payment for order %s: %s", payment.order_id, exc)
        raise Conflict(exc.user_message or "The payment provider refused this payment.",
                       code="payment_refused") from exc
    except stripe.IdempotencyError as exc:
        log.error("idempotency key reused for order %s: %s", payment.order_id, exc)
        raise Conflict("The payment provider refused this payment.",
                       code="payment_refused") from exc


def _create_intent(order: Order, payment: Payment, key_suffix: str) -> dict:
    params = {
        "amount": payment.amount, "currency": payment.currency.lower(),
        "metadata": {"order_id": str(order.id), "order_number": order.number},
        "payment_method_types": ["card"],
    }
    if payment.customer_id:
        params["customer"] = payment.customer_id
    # The SDK's raw_request (same requestor, retries and errors as payment_intents.create)
    # answers with the parsed JSON: building a PaymentIntent object and turning it back into a
    # dict cost 1.4 M of a checkout's 17 M instructions, for the three fields read here.
    with provider_errors("create a PaymentIntent"), _refusals(payment):
        return stripe_client().raw_request(
            "post", "/v1/payment_intents", **params,
            idempotency_key=_idempotency_key(payment) + key_suffix).data


def _create_checkout_session(session: Session, order: Order, payment: Payment,
                             success_url: str, cancel_url: str, key_suffix: str) -> dict:
    expires_at = _hold_stock_for_session(session, order)
    metadata = {"order_id": str(order.id), "order_number": order.number}
    params = {
        "mode": "payment", "success_url": success_url, "cancel_url": cancel_url,
        "expires_at": int(expires_at.timestamp()), "client_reference_id": str(order.id),
        "metadata": metadata, "payment_intent_data": {"metadata": metadata},
        "payment_method_types": ["card"],
        "line_items": [{"quantity": 1, "price_data": {
            "currency": payment.currency.lower(), "unit_amount": payment.amount,
            "product_data": {"name": f"Order {order.number}"}}}],
    }
    if payment.customer_id:
        params["customer"] = payment.customer_id
    else:
        params["customer_email"] = order.email
    key = _idempotency_key(payment, "-session") + key_suffix
    with provider_errors("create a Checkout Session"), _refusals(payment):
        return as_dict(stripe_client().v1.checkout.sessions.create(
            params=params, options={"idempotency_key": key}))


def _hold_stock_for_session(session: Session, order: Order):
    """A hosted page lives at least 30 minutes (Stripe's minimum), so the reservation is
    stretched to cover it: the stock stays held for as long as the customer can pay."""
    now = utcnow()
    expires_at = as_utc(order.reservation_expires_at or now)
    if expires_at < now + SESSION_MIN_LIFETIME:
        expires_at = (now + SESSION_MIN_LIFETIME).replace(microsecond=0)
        order.reservation_expires_at = expires_at
        for reservation in session.scalars(select(StockReservation).where(
                StockReservation.order_id == order.id, StockReservation.status == "active")):
            reservation.expires_at = expires_at
    # a reservation longer than a session may live: the session ends first, and its
    # checkout.session.expired event releases the stock early
    return min(expires_at, now + SESSION_MAX_LIFETIME)


def _customer_for(session: Session, user: User, *, replace: bool = False) -> str:
    """The user's Stripe Customer (saved cards live there), created on first checkout."""
    if user.stripe_customer_id and not replace:
        return user.stripe_customer_id
    # The account's row stays locked until this checkout commits: an account deletion or a
    # second first checkout running now waits, and then sees this Customer (deletion queues
    # its erasure) instead of missing it.
    session.refresh(user, with_for_update=True)
    if user.stripe_customer_id and not replace:
        return user.stripe_customer_id
    key = f"user-{user.id}-customer"
    if replace:
        key += f"-replacing-{user.stripe_customer_id}"
    with provider_errors("create a Customer"):
        customer = stripe_client().v1.customers.create(
            params={"email": user.email, "name": user.name or user.email,
                    "metadata": {"user_id": str(user.id)}},
            options={"idempotency_key": key})
    user.stripe_customer_id = customer.id
    session.flush()
    return customer.id


def _wallet_secrets(customer_id: str | None) -> dict:
    """What the mobile PaymentSheet needs to offer the customer's saved cards."""
    if customer_id is None:
        return {}
    features = {"payment_method_save": "enabled", "payment_method_redisplay": "enabled",
                "payment_method_remove": "enabled"}
    client = stripe_client()
    with provider_errors("create a CustomerSession"):
        customer_session = client.v1.customer_sessions.create(params={
            "customer": customer_id,
            "components": {"mobile_payment_element": {"enabled": True, "features": features},
                           "payment_element": {"enabled": True, "features": features}},
        })
        secrets = {"customer_session_client_secret": customer_session.client_secret}
        version = current_app.config["STRIPE_EPHEMERAL_KEY_VERSION"]
        if version:  # older mobile SDKs: a customer ephemeral key for their API version
            key = client.v1.ephemeral_keys.create(params={"customer": customer_id},
                                                  options={"stripe_version": version})
            secrets["ephemeral_key_secret"] = key.secret
    return secrets


def _resume(payment: Payment) -> dict:
    """start_payment called again for a live payment: hand out the same one."""
    client = stripe_client()
    if payment.flow == "hosted":
        with provider_errors("retrieve a Checkout Session"):
            checkout = client.v1.checkout.sessions.retrieve(payment.checkout_session_id)
        return payment_details(payment, checkout_url=checkout.url)
    with provider_errors("retrieve a PaymentIntent"):
        intent = client.v1.payment_intents.retrieve(payment.payment_intent_id)
    return payment_details(payment, client_secret=intent.client_secret,
                           **_wallet_secrets(payment.customer_id))


def cancel_payment(*, session: Session, order: Order) -> None:
    """Stop the order's live payment in Stripe. The order itself is left to the caller, unless
    the payment turns out to have succeeded: then the order is settled as paid."""
    payment = transitions.latest_payment(session, order.id)
    if payment is None or payment.is_terminal:
        return
    client = stripe_client()
    with provider_errors("cancel a payment"):
        if payment.flow == "hosted":  # Stripe cancels a Checkout Session's intent itself
            _expire_checkout_session(session, client, payment)
            return
        try:
            intent = as_dict(client.v1.payment_intents.cancel(
                payment.payment_intent_id, params={"cancellation_reason": "abandoned"}))
        except stripe.InvalidRequestError as exc:  # not cancelable: see what it is instead
            intent = _retrieve_intent_or_none(client, payment, exc)
    if intent is None or intent["status"] == "canceled":
        transitions.advance(payment, "canceled", None if intent else "gone from Stripe")
        session.flush()
    else:
        transitions.apply_intent(session=session, payment=payment, intent=intent)


def _retrieve_intent_or_none(client: stripe.StripeClient, payment: Payment,
                             error: stripe.InvalidRequestError) -> dict | None:
    if is_missing(error):
        return None
    return as_dict(client.v1.payment_intents.retrieve(payment.payment_intent_id))


def _expire_checkout_session(session: Session, client: stripe.StripeClient,
                             payment: Payment) -> None:
    try:
        checkout = as_dict(client.v1.checkout.sessions.expire(payment.checkout_session_id))
    except stripe.InvalidRequestError as exc:  # no longer open: paid meanwhile, or expired
        if is_missing(exc):
            checkout = {"id": payment.checkout_session_id, "status": "expired"}
        else:
            checkout = as_dict(client.v1.checkout.sessions.retrieve(payment.checkout_session_id))
    if checkout.get("status") == "expired":
        transitions.advance(payment, "expired")
        session.flush()
    else:
        transitions.apply_checkout_session(session=session, payment=payment, checkout=checkout)


def sync_payment(*, session: Session, payment: Payment) -> None:
    """Ask Stripe for the payment's current state and apply it, as its webhook would."""
    client = stripe_client()
    with provider_errors("retrieve a payment"):
        if payment.flow == "hosted":  # the session says whether it is paid, or expired
            checkout = client.v1.checkout.sessions.retrieve(payment.checkout_session_id)
            transitions.apply_checkout_session(session=session, payment=payment,
                                               checkout=as_dict(checkout))
            return
        intent = client.v1.payment_intents.retrieve(payment.payment_intent_id)
    transitions.apply_intent(session=session, payment=payment, intent=as_dict(intent))


def cancel_for_customer(*, session: Session, order: Order) -> Order:
    """POST /orders/{id}/cancel: the customer gives up an order before paying for it. Its
    payment is stopped in Stripe, its stock and voucher holds released, its cart reopened.

    Stopping the payment may find the customer paid after all: the order is then settled as
    paid (worth committing) and comes back not cancelled (see `not_cancellable`)."""
    if order.status == "cancelled":
        return order
    if order.status != "pending_payment":
        raise not_cancellable()
    cancel_payment(session=session, order=order)
    return orders.cancel_unpaid(session=session, order_id=order.id,
                                reason="cancelled_by_customer")


def not_cancellable() -> Conflict:
    return Conflict("This order has been paid, so it can no longer be cancelled here; the "
                    "clinic can cancel and refund it.", code="order_not_cancellable")


def sync_order(*, session: Session, order: Order) -> Payment | None:
    """POST /orders/{id}/sync: the order's live payment, brought up to date from Stripe."""
    payment = transitions.latest_payment(session, order.id)
    if payment is not None and not payment.is_terminal:
        sync_payment(session=session, payment=payment)
    return payment
