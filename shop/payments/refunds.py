"""Refunds to the card: asked for by staff (or automatically), or learnt from Stripe's events.

The payment row is locked while a refund is checked and sent, so concurrent refunds of one
payment queue up and can never add up to more than was captured. That lock is held across
the Stripe call on purpose: refunds are rare and being exact matters more than speed.
"""

from __future__ import annotations

import stripe
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shop.db import utcnow
from shop.errors import Conflict, ValidationFailed
from shop.orders import emails
from shop.orders import services as orders
from shop.orders.models import Order
from shop.payments.client import as_dict, provider_errors, stripe_client
from shop.payments.models import Payment, Refund

NOT_COUNTING = ("failed", "canceled")
AUTO_REFUND_REASON = "paid after the reservation expired and the stock was gone"


def _lock_captured_payment(session: Session, order_id: int) -> Payment | None:
    return session.scalar(
        select(Payment)
        .where(Payment.order_id == order_id, Payment.status == "succeeded")
        .order_by(Payment.attempt.desc()).limit(1)
        .with_for_update().execution_options(populate_existing=True)
    )


def refundable_amount(*, session: Session, payment: Payment) -> int:
    refunded = session.scalar(
        select(func.coalesce(func.sum(Refund.amount), 0))
        .where(Refund.payment_id == payment.id, Refund.status.not_in(NOT_COUNTING))
    )
    return payment.amount - int(refunded or 0)


def _replayed(existing: Refund, order: Order, amount: int) -> Refund:
    if existing.order_id != order.id or existing.amount != amount:
        raise Conflict("That idempotency key was used for a different refund.",
                       code="refund_idempotency_mismatch")
    return existing


def refund(*, session: Session, order: Order, amount: int, idempotency_key: str,
           reason: str) -> Refund:
    """Send `amount` of the order's card payment back, at most what is left to refund."""
    if amount <= 0:
        raise ValidationFailed("A refund must be a positive amount.",
                               errors={"amount": ["Must be greater than zero."]})
    existing = session.scalar(select(Refund).where(Refund.idempotency_key == idempotency_key))
    if existing is not None:
        return _replayed(existing, order, amount)
    payment = _lock_captured_payment(session, order.id)
    left = refundable_amount(session=session, payment=payment) if payment else 0
    if amount > left:
        raise Conflict(f"At most {left} can still be refunded to the card.",
                       code="refund_exceeds_payment", refundable=left)
    created = _create_in_stripe(payment, amount, idempotency_key, reason)
    row = Refund(order_id=order.id, payment_id=payment.id, stripe_refund_id=created["id"],
                 amount=amount, status=created.get("status") or "pending", reason=reason[:255],
                 idempotency_key=idempotency_key)
    session.add(row)
    session.flush()
    return row


def _create_in_stripe(payment: Payment, amount: int, idempotency_key: str, reason: str) -> dict:
    params = {"payment_intent": payment.payment_intent_id, "amount": amount,
              "metadata": {"order_id": str(payment.order_id), "reason": reason[:500]}}
    with provider_errors("refund a payment"):
        try:
            return as_dict(stripe_client().v1.refunds.create(
                params=params, options={"idempotency_key": idempotency_key}))
        except stripe.InvalidRequestError as exc:
            if exc.code in ("amount_too_large", "charge_already_refunded"):
                raise Conflict("Stripe says the payment has less left to refund.",
                               code="refund_exceeds_payment") from exc
            raise Conflict(exc.user_message or "Stripe refused the refund.",
                           code="refund_refused") from exc


def refund_automatically(*, session: Session, payment: Payment, order: Order,
                         amount: int) -> Refund:
    """A payment we cannot honour (its stock was sold meanwhile) goes straight back."""
    row = refund(session=session, order=order, amount=amount,
                 idempotency_key=f"order-{order.id}-auto-refund", reason=AUTO_REFUND_REASON)
    orders.add_event(order, "refunded", amount=amount, reference=row.stripe_refund_id,
                     reason=AUTO_REFUND_REASON, automatic=True)
    orders.email_customer(session=session, order=order,
                          message=emails.refunded_sold_out(order, amount),
                          dedupe_key=f"order-auto-refund:{order.id}")
    session.flush()
    return row


def record_from_stripe(*, session: Session, payment: Payment, refund: dict) -> Refund:
    """A refund Stripe told us about: update ours, or record one made outside the shop."""
    row = session.scalar(select(Refund).where(Refund.stripe_refund_id == refund["id"]))
    if row is None:
        return _record_outside_refund(session, payment, refund)
    counted = row.counts
    if row.status not in NOT_COUNTING:
        row.status = refund.get("status") or row.status
    if counted and not row.counts:
        row.failed_at = utcnow()  # the sales report books the reversal on this day
        order = orders.lock_order(session=session, order_id=row.order_id)
        order.needs_attention, order.attention_reason = True, "refund_failed"
        orders.add_event(order, "refund_failed", refund_id=row.stripe_refund_id,
                         amount=row.amount, failure_reason=refund.get("failure_reason"))
        orders.email_customer(session=session, order=order,
                              message=emails.refund_failed(order, row.amount),
                              dedupe_key=f"order-refund-failed:{row.id}")
    session.flush()
    return row


def _record_outside_refund(session: Session, payment: Payment, refund: dict) -> Refund:
    metadata = refund.get("metadata") or {}
    reason = metadata.get("reason") or refund.get("reason") or "refunded in Stripe"
    row = Refund(order_id=payment.order_id, payment_id=payment.id,
                 stripe_refund_id=refund["id"], amount=int(refund["amount"]),
                 status=refund.get("status") or "pending", reason=str(reason)[:255],
                 idempotency_key=f"stripe:{refund['id']}")
    session.add(row)
    session.flush()
    if row.counts:
        orders.record_refund(session=session, order_id=payment.order_id, amount=row.amount,
                             reference=row.stripe_refund_id, reason=row.reason)
    return row
