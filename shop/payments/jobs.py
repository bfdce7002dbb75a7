"""Worker jobs: expire unpaid reservations, reconcile pending orders with Stripe, and keep
accounts' Stripe Customers in step with them.

The first two process a small batch per run and isolate each order in a savepoint, so one order that
Stripe cannot answer for never holds up (or rolls back) the others.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy.orm import Session

from shop.orders import services as orders
from shop.orders.models import Order
from shop.payments import customers, transitions
from shop.payments import services as payments
from shop.worker import job, stop_requested

log = logging.getLogger(__name__)
BATCH = 25


@job("expire_reservations", every_seconds=30)
def expire_reservations(*, session: Session, now: datetime) -> int:
    """Orders unpaid when their reservation ends: cancel the payment, put the stock back."""
    expired = 0
    for order in orders.due_for_expiry(session=session, now=now, limit=BATCH):
        if stop_requested():
            break
        _expire(session, order)
        expired += 1
    return expired


def _expire(session: Session, order: Order) -> None:
    try:
        with session.begin_nested():
            payments.cancel_payment(session=session, order=order)
    except Exception:
        # Stripe down (or the payment unknown to it): release the stock all the same. Should
        # the customer still pay, the payment is honoured if stock allows, else refunded.
        log.warning("could not cancel the payment of order %s; releasing its stock anyway",
                    order.id, exc_info=True)
    if order.status == "pending_payment":
        orders.release_expired(session=session, order_id=order.id)


@job("reconcile_payments", every_seconds=60)
def reconcile_pending(*, session: Session, now: datetime) -> int:
    """Ask Stripe about orders pending for a while: a lost webhook never loses a paid order."""
    older_than = now - timedelta(seconds=current_app.config["RECONCILE_AFTER_SECONDS"])
    checked = 0
    for order in orders.pending_for_reconciliation(session=session, older_than=older_than,
                                                   limit=BATCH * 4):
        if stop_requested():
            break
        payment = transitions.latest_payment(session, order.id)
        if payment is None or payment.is_terminal:
            continue
        try:
            with session.begin_nested():
                payments.sync_payment(session=session, payment=payment)
        except Exception:
            log.warning("could not reconcile order %s with Stripe", order.id, exc_info=True)
            continue
        checked += 1
    return checked


@job("payments.stripe_customers", every_seconds=10, setting="STRIPE_CUSTOMER_SYNC_EVERY_SECONDS")
def sync_stripe_customers(*, session: Session, now: datetime) -> int:
    """Copy new names and emails to accounts' Stripe Customers; delete deleted accounts' ones."""
    return customers.sync_due(session=session, now=now, limit=BATCH, should_stop=stop_requested)
