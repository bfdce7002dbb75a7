"""What a PaymentIntent or Checkout Session state means for the order, applied the same way
from the webhook, the app's sync call and the worker.

Every transition goes through the orders service, which locks the order row first: whichever
of webhook, sync or worker comes second finds the work done. Payments only move forward: a
succeeded, canceled or expired payment never changes again, so events arriving late or twice
cannot undo anything.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from shop.db import update_now
from shop.orders import services as orders
from shop.orders.models import Order
from shop.payments import refunds
from shop.payments.client import id_of
from shop.payments.models import Payment

# fn(*, session, order) -> None, run in the webhook's transaction when a card payment is
# disputed (vouchers freezes the vouchers the order issued).
on_dispute: list[Callable[..., None]] = []


def latest_payment(session: Session, order_id: int) -> Payment | None:
    return session.scalar(
        select(Payment).where(Payment.order_id == order_id)
        .order_by(Payment.attempt.desc()).limit(1)
    )


def payment_for_intent(session: Session, intent: dict) -> Payment | None:
    """Our payment row for a PaymentIntent: by id, else (hosted flow) by the order in metadata."""
    payment = session.scalar(select(Payment).where(Payment.payment_intent_id == intent["id"]))
    if payment is not None:
        return payment
    order_id = (intent.get("metadata") or {}).get("order_id")
    if not order_id or not str(order_id).isdigit():
        return None
    payment = latest_payment(session, int(order_id))
    if payment is None or payment.flow != "hosted" or payment.payment_intent_id is not None:
        return None
    payment.payment_intent_id = intent["id"]  # a hosted session's intent, first seen here
    return payment


def payment_for_session(session: Session, checkout: dict) -> Payment | None:
    return session.scalar(select(Payment).where(Payment.checkout_session_id == checkout["id"]))


def advance(payment: Payment, status: str, error: str | None = None) -> bool:
    """Move the payment to `status` unless it already reached a final one."""
    if payment.is_terminal or (payment.status == status and error is None):
        return False
    payment.status = status
    if error is not None:
        payment.last_error = error[:500]
    return True


def _decline_reason(intent: dict) -> str:
    """Why the last attempt failed, naming the attempt (its charge or payment method), so the
    webhook and a sync reporting the same decline record it once."""
    error = intent.get("last_payment_error") or {}
    code = error.get("decline_code") or error.get("code") or "payment_failed"
    message = error.get("message") or "The payment failed."
    attempt = id_of(error.get("charge")) or id_of(error.get("payment_method"))
    return f"{code}: {message}" + (f" ({attempt})" if attempt else "")


def apply_intent(*, session: Session, payment: Payment, intent: dict) -> None:
    """Bring the order in line with the PaymentIntent's current (or reported) state."""
    status = intent.get("status")
    if status == "succeeded":
        received = intent.get("amount_received") or int(intent["amount"])
        if str(intent.get("currency", "")).upper() != payment.currency:
            received = 0  # paid in another currency: not what the order asked for
        settle_paid(session=session, payment=payment, amount_received=received,
                    reference=intent["id"])
    elif status == "canceled":
        if advance(payment, "canceled"):
            _cancel_order_if_current(session, payment, "payment_canceled")
    elif status == "requires_payment_method" and intent.get("last_payment_error"):
        reason = _decline_reason(intent)[:500]
        if not payment.is_terminal and payment.last_error != reason:
            payment.status, payment.last_error = status, reason
            orders.record_payment_failure(session=session, order_id=payment.order_id,
                                          reason=reason)
    elif status:
        advance(payment, status)
    session.flush()


def apply_checkout_session(*, session: Session, payment: Payment, checkout: dict) -> None:
    """Hosted flow: the Checkout Session's state decides (paid only when payment_status says)."""
    intent_id = id_of(checkout.get("payment_intent"))
    if intent_id and payment.payment_intent_id is None:
        payment.payment_intent_id = intent_id
    status, paid = checkout.get("status"), checkout.get("payment_status")
    if status == "complete" and paid in ("paid", "no_payment_required"):
        received = int(checkout.get("amount_total") or 0)
        if str(checkout.get("currency", "")).upper() != payment.currency:
            received = 0
        settle_paid(session=session, payment=payment, amount_received=received,
                    reference=intent_id or checkout["id"])
    elif status == "complete":
        advance(payment, "processing")  # an asynchronous method: wait for async_payment_*
    elif status == "expired":
        if advance(payment, "expired"):
            _cancel_order_if_current(session, payment, "reservation_expired")
    session.flush()


def record_async_failure(*, session: Session, payment: Payment, reason: str) -> None:
    if advance(payment, "requires_payment_method", reason):
        orders.record_payment_failure(session=session, order_id=payment.order_id, reason=reason)
    session.flush()


def settle_paid(*, session: Session, payment: Payment, amount_received: int,
                reference: str) -> orders.PaidResult:
    """The money arrived: the order becomes paid (or, if its stock is gone, is refunded)."""
    result = orders.mark_paid(session=session, order_id=payment.order_id,
                              amount_received=amount_received, reference=reference)
    update_now(session, payment, status="succeeded", last_error=None)
    if result.must_refund:
        refunds.refund_automatically(session=session, payment=payment, order=result.order,
                                     amount=amount_received)
    return result


def _cancel_order_if_current(session: Session, payment: Payment, reason: str) -> None:
    """A dead payment ends its order only if it was the order's live attempt."""
    current = latest_payment(session, payment.order_id)
    if current is not None and current.id == payment.id:
        orders.cancel_unpaid(session=session, order_id=payment.order_id, reason=reason)


def flag_dispute(*, session: Session, payment: Payment, dispute: dict) -> Order:
    order = orders.lock_order(session=session, order_id=payment.order_id)
    order.needs_attention, order.attention_reason = True, "dispute"
    orders.add_event(order, "dispute", dispute_id=dispute.get("id"),
                     amount=dispute.get("amount"), reason=dispute.get("reason"))
    for hook in on_dispute:
        hook(session=session, order=order)
    session.flush()
    return order
