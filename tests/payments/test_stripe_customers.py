"""An account's Stripe Customer follows the account: a new name or sign-in address is copied
to it, and deleting the account deletes it, through the worker and against localstripe."""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import stripe
from sqlalchemy import select

from shop.accounts.models import User
from shop.db import utcnow
from shop.extensions import db
from shop.payments import customers
from shop.payments import services as payments
from shop.payments.jobs import sync_stripe_customers
from shop.payments.models import CustomerSync
from tests.accounts import test_email_change as email_change
from tests.accounts.test_api import register
from tests.carts.factories import make_variant, place_order
from tests.fixtures.auth import bearer_for, make_user
from tests.fixtures.stripe import settings_for

ME = "/api/v1/me"
STRIPE_DOWN = "http://127.0.0.1:9"


@pytest.fixture
def customer_of(use_localstripe):
    """Give a user a Stripe Customer, as their first checkout would."""

    def give(session, user):
        customer = use_localstripe.client.v1.customers.create(
            params={"email": user.email, "name": user.name, "metadata": {"user_id": user.id}})
        user.stripe_customer_id = customer.id
        session.flush()
        return customer.id

    return give


def syncs(session) -> list[tuple[str, str]]:
    return [(row.action, row.status) for row in
            session.scalars(select(CustomerSync).order_by(CustomerSync.id))]


def run(session, now=None) -> int:
    """One worker pass. Its session is fresh: it sees what requests did, and they see its work."""
    session.expire_all()
    done = sync_stripe_customers(session=session, now=now or utcnow())
    session.flush()
    return done


def in_stripe(fake, customer_id: str):
    return fake.client.v1.customers.retrieve(customer_id)


def test_a_new_name_reaches_the_customer_when_the_worker_runs(
    client, db_session, use_localstripe, customer_of
):
    user = make_user(db_session, name="Ann Old")
    customer_id = customer_of(db_session, user)
    response = client.patch(ME, headers=bearer_for(db_session, user), json={"name": "Ann New"})
    assert response.status_code == 200
    assert in_stripe(use_localstripe, customer_id).name == "Ann Old"  # not in the request
    assert syncs(db_session) == [("update", "pending")]
    assert run(db_session) == 1
    customer = in_stripe(use_localstripe, customer_id)
    assert (customer.name, customer.email) == ("Ann New", user.email)
    assert syncs(db_session) == [("update", "done")]
    assert run(db_session) == 0


def test_changes_before_the_worker_runs_make_one_update_with_the_latest_details(
    client, db_session, use_localstripe, customer_of
):
    user = make_user(db_session, name="Ann")
    customer_id = customer_of(db_session, user)
    headers = bearer_for(db_session, user)
    for name in ("Ann B", "Ann C"):
        assert client.patch(ME, headers=headers, json={"name": name}).status_code == 200
    assert syncs(db_session) == [("update", "pending")]
    assert run(db_session) == 1
    assert in_stripe(use_localstripe, customer_id).name == "Ann C"


@pytest.mark.parametrize("changes", [{"name": "Ann"}, {"name": " Ann "},
                                     {"marketing_consent": True}])
def test_nothing_is_queued_when_name_and_email_stay_the_same(
    client, db_session, use_localstripe, customer_of, changes
):
    user = make_user(db_session, name="Ann")
    customer_of(db_session, user)
    assert client.patch(ME, headers=bearer_for(db_session, user), json=changes).status_code == 200
    assert syncs(db_session) == []


def test_an_account_without_a_customer_queues_nothing(client, db_session, use_localstripe):
    user = make_user(db_session, name="Ann")
    assert client.patch(ME, headers=bearer_for(db_session, user),
                        json={"name": "Ann New"}).status_code == 200
    assert client.delete(ME, headers=bearer_for(db_session, user)).status_code == 204
    assert syncs(db_session) == []


def test_a_confirmed_new_address_reaches_the_customer(
    client, db_session, use_localstripe, customer_of
):
    tokens = register(client, email="ann@example.com", name="Ann").json
    user = db_session.get(User, tokens["user"]["id"])
    customer_id = customer_of(db_session, user)
    code = email_change.code_for(client, db_session, tokens, "ann@new.example")
    assert syncs(db_session) == []  # asked for, not confirmed
    assert email_change.confirm(client, tokens, code).status_code == 200
    assert run(db_session) == 1
    assert in_stripe(use_localstripe, customer_id).email == "ann@new.example"


def test_deleting_the_account_deletes_its_customer(
    client, db_session, use_localstripe, customer_of
):
    user = make_user(db_session, name="Ann")
    customer_id = customer_of(db_session, user)
    headers = bearer_for(db_session, user)
    assert client.patch(ME, headers=headers, json={"name": "Ann New"}).status_code == 200
    assert client.delete(ME, headers=headers).status_code == 204
    assert syncs(db_session) == [("delete", "pending")]  # the waiting update is dropped
    db_session.refresh(user)
    assert user.stripe_customer_id is None
    assert run(db_session) == 1
    with pytest.raises(stripe.InvalidRequestError):
        in_stripe(use_localstripe, customer_id)
    assert syncs(db_session) == [("delete", "done")]


def test_a_customer_already_gone_from_stripe_counts_as_done(
    db_session, use_localstripe, customer_of
):
    user = make_user(db_session, name="Ann")
    customer_id = customer_of(db_session, user)
    use_localstripe.client.v1.customers.delete(customer_id)
    customers.queue_update(session=db_session, user=user)
    assert run(db_session) == 1
    row = db_session.scalar(select(CustomerSync))
    assert (row.status, row.last_error) == ("done", "gone from Stripe")


def test_the_customer_stays_while_a_payment_of_the_account_may_still_be_paid(
    client, db_session, use_localstripe
):
    user = make_user(db_session, name="Ann")
    placed = place_order(db_session, [(make_variant(db_session), 1)], user=user)
    payment = payments.start_payment(session=db_session, order=placed.order, user=user)
    customer_id = payment["customer_id"]
    assert client.delete(ME, headers=bearer_for(db_session, user)).status_code == 204
    now = utcnow()
    assert run(db_session, now) == 0
    row = db_session.scalar(select(CustomerSync))
    assert (row.status, row.attempts) == ("pending", 0)
    assert row.next_attempt_at == now + customers.LIVE_PAYMENT_RECHECK
    assert in_stripe(use_localstripe, customer_id).id == customer_id
    payments.cancel_payment(session=db_session, order=placed.order)
    assert run(db_session, now + timedelta(minutes=10)) == 1
    with pytest.raises(stripe.InvalidRequestError):
        in_stripe(use_localstripe, customer_id)


def test_a_payment_that_never_ends_holds_the_customer_one_day_at_most(
    client, db_session, use_localstripe
):
    user = make_user(db_session, name="Ann")
    placed = place_order(db_session, [(make_variant(db_session), 1)], user=user)
    customer_id = payments.start_payment(session=db_session, order=placed.order,
                                         user=user)["customer_id"]
    assert client.delete(ME, headers=bearer_for(db_session, user)).status_code == 204
    row = db_session.scalar(select(CustomerSync))
    assert run(db_session, row.created_at + timedelta(hours=23)) == 0
    assert run(db_session, row.created_at + timedelta(days=1)) == 1
    with pytest.raises(stripe.InvalidRequestError):
        in_stripe(use_localstripe, customer_id)


def test_stripe_down_is_retried_with_backoff_until_it_answers(
    db_session, use_localstripe, customer_of, app, monkeypatch, caplog
):
    user = make_user(db_session, name="Ann")
    customer_id = customer_of(db_session, user)
    customers.queue_delete(session=db_session, user=user)
    now = utcnow()
    with monkeypatch.context() as down:
        down.setitem(app.config, "STRIPE_API_BASE", STRIPE_DOWN)
        assert run(db_session, now) == 0
        row = db_session.scalar(select(CustomerSync))
        assert (row.status, row.attempts) == ("pending", 1)
        assert row.last_error.startswith("APIConnectionError")
        assert row.next_attempt_at == now + timedelta(seconds=30)
        assert run(db_session, now + timedelta(seconds=29)) == 0  # not due yet
        assert run(db_session, now + timedelta(seconds=30)) == 0
        assert (row.attempts, row.next_attempt_at) == (2, now + timedelta(seconds=90))
    assert run(db_session, now + timedelta(seconds=90)) == 1
    assert (row.status, row.attempts) == ("done", 2)
    with pytest.raises(stripe.InvalidRequestError):
        in_stripe(use_localstripe, customer_id)


def test_after_the_last_attempt_it_is_marked_failed_and_logged(
    db_session, use_localstripe, customer_of, app, monkeypatch, caplog
):
    user = make_user(db_session, name="Ann")
    customer_of(db_session, user)
    customers.queue_update(session=db_session, user=user)
    monkeypatch.setitem(app.config, "STRIPE_API_BASE", STRIPE_DOWN)
    row = db_session.scalar(select(CustomerSync))
    with caplog.at_level(logging.WARNING, logger="shop.payments.customers"):
        for _ in range(customers.RETRY.max_attempts):
            run(db_session, row.next_attempt_at)
    assert (row.status, row.attempts) == ("failed", customers.RETRY.max_attempts)
    assert row.done_at is not None
    assert caplog.records[-1].levelno == logging.ERROR
    assert run(db_session, utcnow() + timedelta(days=2)) == 0  # never tried again


def test_a_change_stripe_refuses_is_not_retried(db_session, use_localstripe, customer_of):
    user = make_user(db_session, name="Ann")
    customer_id = customer_of(db_session, user)
    user.email = "ann@localhost"  # an address only a local mail system takes; Stripe does not
    customers.queue_update(session=db_session, user=user)
    assert run(db_session) == 0
    row = db_session.scalar(select(CustomerSync))
    assert (row.status, row.attempts) == ("failed", 1)
    assert row.last_error.startswith("InvalidRequestError: Invalid email address")
    assert in_stripe(use_localstripe, customer_id).email != "ann@localhost"


def first_checkout_racing(pooled_app, start_localstripe, app_config, change) -> int:
    """Run `change(client, headers)` 0.3 s into the account's first checkout, which holds the
    account's row while Stripe (600 ms late here) creates its Customer; returns the user id
    once both have answered."""
    slow = start_localstripe(latency_ms=600)
    race_app = pooled_app(6, **settings_for(slow, app_config["STRIPE_WEBHOOK_SECRET"]))
    with race_app.app_context():
        user = make_user(db.session, name="Ann")
        headers = bearer_for(db.session, user)
        sku, user_id = make_variant(db.session).sku, user.id
        db.session.commit()
        db.session.remove()
    client = race_app.test_client()
    cart_id = client.post("/api/v1/carts", headers=headers).json["id"]
    client.post(f"/api/v1/carts/{cart_id}/items", headers=headers,
                json={"sku": sku, "quantity": 1})

    def check_out() -> int:
        return race_app.test_client().post(
            f"/api/v1/carts/{cart_id}/checkout", headers=headers,
            json={"shipping_method": "click-and-collect"}).status_code

    def change_meanwhile() -> int:
        time.sleep(0.3)
        return change(race_app.test_client(), headers)

    with ThreadPoolExecutor(max_workers=2) as pool:
        checked_out, changed = pool.submit(check_out), pool.submit(change_meanwhile)
        assert (checked_out.result(), changed.result()) in ((201, 204), (201, 200))
    return user_id


def waiting_syncs(pooled_app) -> list[tuple[int, str, str]]:
    with pooled_app(1).app_context():
        rows = [(sync.user_id, sync.action, sync.status)
                for sync in db.session.scalars(select(CustomerSync))]
        db.session.remove()
    return rows


@pytest.mark.postgresql_only
def test_an_account_deleted_during_its_first_checkout_still_loses_its_customer(
    pooled_app, start_localstripe, app_config
):
    """A deletion during the checkout that creates the account's first Customer waits for
    it, then sees the Customer and queues its erasure (no Customer is left behind)."""
    user_id = first_checkout_racing(pooled_app, start_localstripe, app_config,
                                    lambda client, headers: client.delete(
                                        ME, headers=headers).status_code)
    assert waiting_syncs(pooled_app) == [(user_id, "delete", "pending")]


@pytest.mark.postgresql_only
def test_a_name_changed_during_the_first_checkout_reaches_the_new_customer(
    pooled_app, start_localstripe, app_config
):
    user_id = first_checkout_racing(pooled_app, start_localstripe, app_config,
                                    lambda client, headers: client.patch(
                                        ME, headers=headers, json={"name": "Ann New"}
                                    ).status_code)
    assert waiting_syncs(pooled_app) == [(user_id, "update", "pending")]
