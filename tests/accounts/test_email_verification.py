"""Proving the address: a signed link mailed at registration (and on request), good for
EMAIL_VERIFY_DAYS and only while the account keeps that address; a reset or an email change
proves it too. Staff can then keep unproved addresses off a mailing list."""

from __future__ import annotations

import re

import pytest
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import select

from shop.accounts.verification import SALT
from shop.notifications import sealing
from shop.notifications.models import OutboxEmail
from tests.accounts import test_email_change as email_change
from tests.accounts import test_password_reset as reset_flow
from tests.accounts.test_api import assert_problem, bearer, register
from tests.accounts.test_ratelimits import assert_rate_limited
from tests.fixtures.auth import bearer_for, make_user

VERIFY = "/api/v1/auth/verify-email"
RESEND = "/api/v1/me/email/verification"
LINK = re.compile(r"https://shop\.example/verify\?t=(\S+)")


@pytest.fixture(autouse=True)
def link_setting(app, monkeypatch):
    monkeypatch.setitem(app.config, "EMAIL_VERIFY_URL", "https://shop.example/verify?t={token}")


def mailed_token(session, to: str) -> str:
    email = session.scalars(select(OutboxEmail).where(
        OutboxEmail.to == to, OutboxEmail.subject == "Confirm your GLOW Clinic email address")
        .order_by(OutboxEmail.id.desc())).first()
    assert email.sealed
    [token] = LINK.findall(sealing.content_of(email).text)
    return token


def profile(client, tokens) -> dict:
    return client.get("/api/v1/me", headers=bearer(tokens)).json


def test_registration_mails_a_link_that_proves_the_address(client, db_session):
    tokens = register(client, email="ivy@example.com").json
    assert profile(client, tokens)["email_verified"] is False
    token = mailed_token(db_session, "ivy@example.com")
    response = client.post(VERIFY, json={"token": token})  # from any device, signed out
    assert response.json == {"email": "ivy@example.com", "email_verified": True}
    assert profile(client, tokens)["email_verified"] is True
    assert client.post(VERIFY, json={"token": token}).status_code == 200  # harmless twice
    assert_problem(client.post(RESEND, headers=bearer(tokens)), 409, "email_already_verified")


def test_a_tampered_expired_or_outdated_link_is_refused(client, db_session, app, monkeypatch):
    tokens = register(client, email="ivy@example.com").json
    token = mailed_token(db_session, "ivy@example.com")
    assert_problem(client.post(VERIFY, json={"token": token[:-2] + "xx"}), 400,
                   "invalid_verification_token")
    forged = URLSafeTimedSerializer("not the key", salt=SALT).dumps(
        {"user": tokens["user"]["id"], "email": "ivy@example.com"})
    assert_problem(client.post(VERIFY, json={"token": forged}), 400,
                   "invalid_verification_token")
    monkeypatch.setitem(app.config, "EMAIL_VERIFY_DAYS", -1)  # every link is past its time
    assert_problem(client.post(VERIFY, json={"token": token}), 400,
                   "invalid_verification_token")
    monkeypatch.setitem(app.config, "EMAIL_VERIFY_DAYS", 7)
    code = email_change.code_for(client, db_session, tokens, "ivy@new.example")
    assert email_change.confirm(client, tokens, code).status_code == 200
    assert profile(client, tokens)["email_verified"] is True  # the code proved the new one
    assert_problem(client.post(VERIFY, json={"token": token}), 400,  # for the old address
                   "invalid_verification_token")


def test_a_password_reset_proves_the_address(client, db_session):
    register(client, email="ivy@example.com")
    code = reset_flow.code_for(client, db_session, "ivy@example.com")
    assert reset_flow.confirm(client, code).status_code == 200
    tokens = reset_flow.login(client, email="ivy@example.com",
                              password=reset_flow.NEW_PASSWORD).json
    assert profile(client, tokens)["email_verified"] is True


def test_the_link_can_be_asked_for_again(client, db_session):
    user = make_user(db_session, email="old@example.com", name="Old")
    response = client.post(RESEND, headers=bearer_for(db_session, user))
    assert response.status_code == 202
    assert client.post(VERIFY, json={"token": mailed_token(db_session, "old@example.com")}) \
        .json["email_verified"] is True


def test_asking_again_is_limited(limited_app, db_session):
    client = limited_app(EMAIL_VERIFY_RATE_LIMIT="1 per minute").test_client()
    headers = bearer_for(db_session, make_user(db_session))
    assert client.post(RESEND, headers=headers).status_code == 202
    assert_rate_limited(client.post(RESEND, headers=headers))


def test_staff_can_keep_unproved_addresses_off_the_mailing_list(client, db_session):
    from shop.db import utcnow

    staff = bearer_for(db_session, make_user(db_session, role="staff"))
    for email, proved in (("proved@example.com", True), ("unproved@example.com", False)):
        user = make_user(db_session, email=email)
        user.marketing_consent = True
        user.email_verified_at = utcnow() if proved else None
    db_session.flush()
    listed = client.get("/api/v1/admin/customers?marketing_consent=true&email_verified=true",
                        headers=staff).json["items"]
    assert [(c["email"], c["email_verified"]) for c in listed] == [("proved@example.com", True)]
