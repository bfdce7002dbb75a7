"""Stripe webhook events: verified on the raw body, applied once, in any order.

The event id is stored in the same transaction as the event's effect: a duplicate delivery
finds it and changes nothing; of two copies racing, the second waits on the unique index for
the first and then changes nothing too (or applies the event, if the first rolled back).
Stripe delivers at least once and in no particular order, so handlers only move payments
forward and, where a snapshot could be stale, ask Stripe for the current object.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

import stripe
from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from shop.db import insert_once, update_now, utcnow
from shop.errors import BadRequest, ServiceUnavailable
from shop.http import replace_unstorable
from shop.orders import services as orders
from shop.payments import refunds, transitions
from shop.payments.client import as_dict, id_of, provider_errors, stripe_client
from shop.payments.models import Payment, StripeEvent

log = logging.getLogger(__name__)


def verify(payload: bytes, signature: str | None) -> dict:
    """The event, if Stripe signed this exact body recently with our endpoint's secret."""
    config = current_app.config
    if not config["STRIPE_WEBHOOK_SECRET"]:  # an empty key would verify anyone's signature
        raise ServiceUnavailable("Stripe webhooks are not configured here.",
                                 code="webhook_not_configured")
    # The SDK's own check of the signature, then the JSON as it is: Webhook.construct_event
    # would also build a StripeObject tree that only became a dict again here.
    try:
        stripe.WebhookSignature.verify_header(
            payload, signature, config["STRIPE_WEBHOOK_SECRET"],
            tolerance=config["STRIPE_WEBHOOK_TOLERANCE"],
        )
        event = replace_unstorable(json.loads(payload), payload)  # taken as sent, but stored
    except stripe.SignatureVerificationError as exc:
        raise BadRequest("The Stripe-Signature header does not match this body.",
                         code="invalid_signature") from exc
    except (ValueError, TypeError, AttributeError) as exc:  # signed, but not an event
        raise BadRequest("The body is not a Stripe event.", code="invalid_payload") from exc
    data = event.get("data") if isinstance(event, dict) else None
    if not (isinstance(data, dict) and isinstance(event.get("id"), str)
            and isinstance(event.get("type"), str) and isinstance(data.get("object"), dict)):
        raise BadRequest("The body is not a Stripe event.", code="invalid_payload")
    return event


def handle_event(*, session: Session, event: dict) -> bool:
    """Apply one verified event. False if it was seen before (nothing changes)."""
    record = StripeEvent(event_id=event["id"], type=event["type"], received_at=utcnow())
    # A concurrent copy of this event waits here for this transaction: one of them applies it
    if not insert_once(session, record, unless_exists=("event_id",)):
        return False
    handler = HANDLERS.get(event["type"])
    if handler is not None:
        handler(session, event["data"]["object"])
    update_now(session, record, processed_at=utcnow())
    return True


def _intent_payment(session: Session, intent: dict) -> Payment | None:
    payment = transitions.payment_for_intent(session, intent)
    if payment is None:
        log.info("webhook for a PaymentIntent that is not ours: %s", intent.get("id"))
    return payment


def _intent_succeeded(session: Session, intent: dict) -> None:
    if payment := _intent_payment(session, intent):
        transitions.apply_intent(session=session, payment=payment, intent=intent)


def _intent_failed(session: Session, intent: dict) -> None:
    # The snapshot says this attempt failed; a later attempt may already have succeeded,
    # which the payment's forward-only status keeps.
    if payment := _intent_payment(session, intent):
        transitions.apply_intent(session=session, payment=payment, intent=intent)


def _intent_canceled(session: Session, intent: dict) -> None:
    if payment := _intent_payment(session, intent):
        transitions.apply_intent(session=session, payment=payment, intent=intent)


def _session_payment(session: Session, checkout: dict) -> Payment | None:
    payment = transitions.payment_for_session(session, checkout)
    if payment is None:
        log.info("webhook for a Checkout Session that is not ours: %s", checkout.get("id"))
    return payment


def _session_changed(session: Session, checkout: dict) -> None:
    if payment := _session_payment(session, checkout):
        transitions.apply_checkout_session(session=session, payment=payment, checkout=checkout)


def _session_async_failed(session: Session, checkout: dict) -> None:
    if payment := _session_payment(session, checkout):
        transitions.record_async_failure(session=session, payment=payment,
                                         reason="async_payment_failed: the payment failed")


def _locked_payment_for_intent(session: Session, intent_id: str | None) -> Payment | None:
    """Locked (its order first, as everywhere), so a refund being sent for this payment right
    now is committed before we look for it."""
    payment = session.scalar(select(Payment).where(Payment.payment_intent_id == intent_id)) \
        if intent_id else None
    if payment is None:
        return None
    orders.lock_order(session=session, order_id=payment.order_id)
    return session.scalar(select(Payment).where(Payment.id == payment.id).with_for_update()
                          .execution_options(populate_existing=True))


def _intent_id_of_charge(charge_id: str | None) -> str | None:
    if not charge_id:
        return None
    with provider_errors("retrieve a charge"):
        return id_of(stripe_client().v1.charges.retrieve(charge_id).payment_intent)


def _charge_refunded(session: Session, charge: dict) -> None:
    # Newer API versions leave `refunds` out of the charge: ask Stripe for the full list.
    payment = _locked_payment_for_intent(session, id_of(charge.get("payment_intent")))
    if payment is None:
        return
    with provider_errors("list refunds"):
        listed = stripe_client().v1.refunds.list(
            params={"payment_intent": payment.payment_intent_id, "limit": 100})
    for refund in as_dict(listed).get("data", []):
        refunds.record_from_stripe(session=session, payment=payment, refund=refund)


def _refund_changed(session: Session, refund: dict) -> None:
    intent_id = id_of(refund.get("payment_intent")) \
        or _intent_id_of_charge(id_of(refund.get("charge")))
    payment = _locked_payment_for_intent(session, intent_id)
    if payment is not None:
        refunds.record_from_stripe(session=session, payment=payment, refund=refund)


def _dispute_created(session: Session, dispute: dict) -> None:
    intent_id = id_of(dispute.get("payment_intent")) \
        or _intent_id_of_charge(id_of(dispute.get("charge")))
    payment = session.scalar(select(Payment).where(Payment.payment_intent_id == intent_id)) \
        if intent_id else None
    if payment is not None:
        transitions.flag_dispute(session=session, payment=payment, dispute=dispute)


HANDLERS: dict[str, Callable[[Session, dict], None]] = {
    "payment_intent.succeeded": _intent_succeeded,
    "payment_intent.payment_failed": _intent_failed,
    "payment_intent.canceled": _intent_canceled,
    "checkout.session.completed": _session_changed,
    "checkout.session.async_payment_succeeded": _session_changed,
    "checkout.session.async_payment_failed": _session_async_failed,
    "checkout.session.expired": _session_changed,
    "charge.refunded": _charge_refunded,
    "refund.created": _refund_changed,
    "refund.updated": _refund_changed,
    "refund.failed": _refund_changed,
    "charge.dispute.created": _dispute_created,
}
