"""The Stripe Customer of a signed-in account (where its saved cards live) follows the account.

Checkout creates it with the account's name and email. Afterwards a new name or sign-in address
is copied to it, and deleting the account deletes it, and with it every card saved on it. Both
go through `stripe_customer_syncs` and the worker, never the request: the customer's request
does not wait on Stripe, and an outage only delays the change (retried with backoff).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

import stripe
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from shop.accounts import services as accounts
from shop.accounts.models import User
from shop.notifications.services import RetryPolicy, backoff_delay
from shop.orders.models import Order
from shop.payments.client import is_missing, stripe_client
from shop.payments.models import TERMINAL_STATUSES, CustomerSync, Payment

log = logging.getLogger(__name__)

RETRY = RetryPolicy(max_attempts=10, backoff_seconds=30, backoff_max_seconds=3600)
# A Customer is not deleted while one of the account's payments may still be paid: a hosted
# Checkout Session lives at most a day, so a day after the request it goes regardless.
LIVE_PAYMENT_RECHECK = timedelta(minutes=10)
LIVE_PAYMENT_WAIT_AT_MOST = timedelta(days=1)


def queue_update(*, session: Session, user: User) -> None:
    """The account's name or email changed: copy it to its Customer (if it has one)."""
    if not user.stripe_customer_id:
        # The change's UPDATE holds the row: a first checkout that gave the account a
        # Customer meanwhile has committed by now, and this read sees it.
        session.refresh(user, ["stripe_customer_id"])
    if not user.stripe_customer_id:
        return
    waiting = session.scalar(select(CustomerSync.id).where(
        CustomerSync.customer_id == user.stripe_customer_id, CustomerSync.action == "update",
        CustomerSync.status == "pending").limit(1))
    if waiting is None:  # a waiting update sends the details as they are when it runs
        session.add(CustomerSync(user_id=user.id, customer_id=user.stripe_customer_id,
                                 action="update"))
        session.flush()


def queue_delete(*, session: Session, user: User) -> None:
    """The account is being deleted: its Customer and saved cards go too."""
    if not user.stripe_customer_id:
        return
    session.execute(delete(CustomerSync).where(
        CustomerSync.customer_id == user.stripe_customer_id, CustomerSync.action == "update",
        CustomerSync.status == "pending"))
    session.add(CustomerSync(user_id=user.id, customer_id=user.stripe_customer_id,
                             action="delete"))
    session.flush()


def register_hooks() -> None:
    """Hook into the accounts domain's changes (once per process)."""
    for hooks, fn in ((accounts.on_contact_changed, queue_update),
                      (accounts.on_account_deleted, queue_delete)):
        if fn not in hooks:
            hooks.append(fn)


def sync_due(*, session: Session, now: datetime, limit: int,
             should_stop: Callable[[], bool] = lambda: False) -> int:
    """Carry out due changes; returns how many were done."""
    due = session.scalars(
        select(CustomerSync)
        .where(CustomerSync.status == "pending", CustomerSync.next_attempt_at <= now)
        .order_by(CustomerSync.next_attempt_at, CustomerSync.id)
        .limit(limit).with_for_update(skip_locked=True)
    ).all()
    done = 0
    for sync in due:
        if should_stop():
            break
        done += _carry_out(session, sync, now)
    return done


def _carry_out(session: Session, sync: CustomerSync, now: datetime) -> bool:
    if sync.action == "delete" and _payment_may_be_paid(session, sync, now):
        sync.next_attempt_at = now + LIVE_PAYMENT_RECHECK
        return False
    action = _update if sync.action == "update" else _delete
    try:
        outcome = action(session, sync)
    except stripe.StripeError as exc:
        sync.attempts += 1
        sync.last_error = f"{type(exc).__name__}: {exc.user_message or exc}"[:500]
        # Stripe refusing the request outright will not change its mind on a retry
        if isinstance(exc, stripe.InvalidRequestError) or sync.attempts >= RETRY.max_attempts:
            _give_up(sync, now)
        else:
            _retry_later(sync, now)
        return False
    sync.status, sync.done_at, sync.last_error = "done", now, outcome
    return True


def _update(session: Session, sync: CustomerSync) -> str | None:
    user = session.get(User, sync.user_id)
    if user is None or user.deleted_at is not None or user.stripe_customer_id != sync.customer_id:
        return "no longer the account's Customer"
    params = {"email": user.email, "name": user.name or user.email}
    return _unless_gone(lambda: stripe_client().v1.customers.update(sync.customer_id,
                                                                    params=params))


def _delete(session: Session, sync: CustomerSync) -> str | None:
    return _unless_gone(lambda: stripe_client().v1.customers.delete(sync.customer_id))


def _unless_gone(call: Callable[[], object]) -> str | None:
    try:
        call()
    except stripe.InvalidRequestError as exc:
        if is_missing(exc):
            return "gone from Stripe"
        raise
    return None


def _payment_may_be_paid(session: Session, sync: CustomerSync, now: datetime) -> bool:
    if now >= sync.created_at + LIVE_PAYMENT_WAIT_AT_MOST:
        return False
    live = session.scalar(
        select(Payment.id).join(Order, Order.id == Payment.order_id)
        .where(Order.user_id == sync.user_id, Payment.status.not_in(TERMINAL_STATUSES))
        .limit(1))
    return live is not None


def _retry_later(sync: CustomerSync, now: datetime) -> None:
    sync.next_attempt_at = now + backoff_delay(sync.attempts, RETRY)
    log.warning("could not %s Stripe Customer %s (attempt %s): %s", sync.action,
                sync.customer_id, sync.attempts, sync.last_error)


def _give_up(sync: CustomerSync, now: datetime) -> None:
    sync.status, sync.done_at = "failed", now
    log.error("gave up trying to %s Stripe Customer %s after %s attempt(s): %s", sync.action,
              sync.customer_id, sync.attempts, sync.last_error)
