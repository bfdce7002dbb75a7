"""Secrets never reach the logs. Everything logged during a whole flow is captured: sign-up,
sign-in (right and wrong password), token refresh and refresh-token reuse, a cart, a checkout
against localstripe, the payment, Stripe's signed webhook (and a forged one), the order read
with its access token, a voucher look-up, the confirmation email through an SMTP outage, an
unexpected error and an unexpected database error. None of the keys, passwords or tokens
in play may appear in any record, its extra fields or its traceback."""

from __future__ import annotations

import json
import logging
import secrets
from datetime import timedelta

import pytest
from pythonjsonlogger.json import JsonFormatter
from sqlalchemy import select

from shop import create_app
from shop.accounts.models import User
from shop.db import utcnow
from shop.extensions import db
from shop.money import Money
from shop.vouchers import services as vouchers
from shop.worker import run_job
from tests.carts.factories import make_variant
from tests.fixtures.smtp import SmtpServer
from tests.fixtures.stripe import settings_for, sign


class Captured(logging.Handler):
    """Keeps every record, rendered as JSON with its extra fields and traceback."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.formatter_ = JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s")
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.formatter_.format(record) + repr(record.args))


@pytest.fixture
def captured_logs():
    """All records of the shop's logger (at DEBUG, its most talkative) and of every library
    (at INFO, through the root logger), for the duration of the test."""
    handler = Captured()
    root, shop_logger = logging.getLogger(), logging.getLogger("shop")
    saved = root.level, shop_logger.level, list(shop_logger.handlers)
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield handler, shop_logger
    root.removeHandler(handler)
    root.setLevel(saved[0])
    shop_logger.setLevel(saved[1])
    shop_logger.handlers[:] = saved[2]


def test_no_secret_is_logged_through_sign_in_checkout_webhook_and_email(
    app, app_config, committed, localstripe, captured_logs,
):
    handler, shop_logger = captured_logs
    localstripe.reset()
    localstripe.webhooks_off()
    secret = {name: f"{name}-{secrets.token_hex(8)}" for name in (
        "secret_key", "voucher_key", "webhook_secret", "password", "new_password",
        "smtp_password", "db_marker")}
    secret["webhook_secret"] = "whsec_" + secret["webhook_secret"]
    smtp = SmtpServer(auth=("shop-mailer", secret["smtp_password"]))  # down until started
    stripe_settings = settings_for(localstripe, secret["webhook_secret"])
    shop = create_app({
        **app_config, **stripe_settings, "SECRET_KEY": secret["secret_key"],
        "VOUCHER_KEY": secret["voucher_key"], "SMTP_URL": smtp.url, "LOG_LEVEL": "DEBUG",
        "PROPAGATE_EXCEPTIONS": False,
    })
    shop_logger.addHandler(handler)  # create_app replaced the shop logger's handlers
    exposed = [stripe_settings["STRIPE_SECRET_KEY"], *secret.values()]

    @shop.post("/_test/boom")
    def boom():
        raise RuntimeError("unexpected")

    @shop.post("/_test/duplicate-user")
    def duplicate_user():
        taken = db.session.scalars(select(User.email)).first()
        db.session.add(User(email=taken, password_hash=secret["db_marker"], name="x"))
        db.session.flush()  # IntegrityError: a 500 whose SQL parameters carry the marker

    client = shop.test_client()
    with shop.app_context():
        sku = make_variant(db.session, price=2500, stock=3).sku
        issued = vouchers.issue(session=db.session, kind="money", value=Money(3000, "GBP"))
        db.session.commit()
        voucher_code = issued.code
        db.session.remove()
    exposed.append(voucher_code)

    # Accounts: sign up, sign in, a wrong password, refresh, and a reused refresh token.
    email = "secretive@example.com"
    registered = client.post("/api/v1/auth/register", json={
        "email": email, "password": secret["password"], "name": "Sam"})
    assert registered.status_code == 201, registered.text
    assert client.post("/api/v1/auth/token", json={
        "email": email, "password": secret["password"] + "x"}).status_code == 401
    tokens = client.post("/api/v1/auth/token", json={
        "email": email, "password": secret["password"]}).json
    refreshed = client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 200
    assert client.post("/api/v1/auth/refresh",
                       json={"refresh_token": tokens["refresh_token"]}).status_code == 401
    signed_in = client.post("/api/v1/auth/token", json={
        "email": email, "password": secret["password"]}).json
    bearer = {"Authorization": f"Bearer {signed_in['access_token']}"}
    changed = client.post("/api/v1/me/password", headers=bearer, json={
        "current_password": secret["password"], "new_password": secret["new_password"]})
    assert changed.status_code == 200, changed.text
    signed_in = client.post("/api/v1/auth/token", json={
        "email": email, "password": secret["new_password"]}).json
    bearer = {"Authorization": f"Bearer {signed_in['access_token']}"}
    exposed += [registered.json["access_token"], registered.json["refresh_token"],
                tokens["access_token"], tokens["refresh_token"], refreshed.json["access_token"],
                refreshed.json["refresh_token"], signed_in["access_token"],
                signed_in["refresh_token"]]

    # Cart, checkout, payment, webhook (and a forged one), the order read back.
    cart = client.post("/api/v1/carts", headers=bearer).json["id"]
    assert client.post(f"/api/v1/carts/{cart}/items", headers=bearer,
                       json={"sku": sku, "quantity": 1}).status_code == 201
    placed = client.post(f"/api/v1/carts/{cart}/checkout", headers=bearer, json={
        "email": email, "shipping_method": "click-and-collect"})
    assert placed.status_code == 201, placed.text
    payment = placed.json["payment"]
    exposed += [*(payment[name] for name in (
        "client_secret", "customer_session_client_secret", "ephemeral_key_secret")
        if payment.get(name))]
    assert localstripe.pay(payment["client_secret"])["status"] == "succeeded"
    event = next(e for e in localstripe.events("payment_intent.succeeded")
                 if e["data"]["object"]["id"] == payment["payment_intent_id"])
    body = json.dumps(event).encode()
    signature = sign(body, secret["webhook_secret"])
    exposed.append(signature.split("v1=")[1])
    forged = client.post("/api/v1/stripe/webhook", data=body, content_type="application/json",
                         headers={"Stripe-Signature": sign(body, "whsec_forged")})
    assert forged.status_code == 400
    delivered = client.post("/api/v1/stripe/webhook", data=body,
                            content_type="application/json",
                            headers={"Stripe-Signature": signature})
    assert delivered.status_code == 200, delivered.text
    order_id = placed.json["order"]["id"]
    assert client.get(f"/api/v1/orders/{order_id}", headers=bearer).json["status"] == "paid"
    # A guest's order, read back with its access token (header, then query string).
    guest_cart = client.post("/api/v1/carts").json["id"]
    client.post(f"/api/v1/carts/{guest_cart}/items", json={"sku": sku, "quantity": 1})
    guest = client.post(f"/api/v1/carts/{guest_cart}/checkout", json={
        "email": "guest@example.com", "shipping_method": "click-and-collect"}).json
    exposed += [guest["access_token"], guest["payment"]["client_secret"]]
    guest_url = f"/api/v1/orders/{guest['order']['id']}"
    assert client.get(guest_url, headers={"X-Order-Token": guest["access_token"]}).json[
        "status"] == "pending_payment"
    assert client.get(guest_url, query_string={"access_token": guest["access_token"]}
                      ).status_code == 200
    assert client.get(f"/api/v1/vouchers/{voucher_code}").status_code == 200

    # The confirmation email: SMTP down (a retry is scheduled), then up.
    assert run_job(shop, "send_outbox") >= 1
    smtp.start()
    try:
        assert run_job(shop, "send_outbox", utcnow() + timedelta(hours=2)) >= 1
        smtp.wait_for(1)
    finally:
        smtp.stop()

    # Unexpected failures, with credentials and a password in the request.
    assert client.post("/_test/boom", headers=bearer,
                       json={"password": secret["password"]}).status_code == 500
    assert client.post("/_test/duplicate-user", headers=bearer).status_code == 500

    with shop.app_context():
        db.engine.dispose()
    logged = "\n".join(handler.lines)
    # The flow really was logged (so an empty capture cannot pass this test) ...
    for expected in ("signed in", "sign-in refused", "refresh token reused", "not sent",
                     "unhandled error", "IntegrityError"):
        assert expected in logged, f"{expected!r} was never logged:\n{logged}"
    # ... and no secret is in it.
    leaked = [value for value in exposed if value and value in logged]
    assert not leaked, f"secrets in the logs: {leaked}\n{logged}"
