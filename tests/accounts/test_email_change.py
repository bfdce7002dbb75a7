"""Changing the sign-in address: asked for with the current password, confirmed with the code
mailed (sealed) to the new address by the same signed-in account, announced to the old
address; nothing changes before that, and a password change or reset ends the request."""

from __future__ import annotations

import logging
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from shop.accounts.jobs import purge_mailed_codes
from shop.accounts.models import EmailChange, User
from shop.db import utcnow
from shop.extensions import db
from shop.notifications import sealing
from shop.notifications.models import OutboxEmail
from tests.accounts import test_password_reset as reset_flow
from tests.accounts.test_api import PASSWORD, assert_problem, bearer, login, register
from tests.accounts.test_ratelimits import assert_rate_limited

REQUEST = "/api/v1/me/email"
CONFIRM = "/api/v1/me/email/confirm"
CODE = re.compile(r"^(ec_[A-Za-z0-9_-]{43})\r?$", re.MULTILINE)


def ask(client, tokens, new_email, password=PASSWORD):
    return client.post(REQUEST, headers=bearer(tokens),
                       json={"new_email": new_email, "password": password})


def confirm(client, tokens, token):
    return client.post(CONFIRM, headers=bearer(tokens), json={"token": token})


def newest_email(session, to: str) -> OutboxEmail:
    return session.scalars(select(OutboxEmail).where(OutboxEmail.to == to)
                           .order_by(OutboxEmail.id.desc())).first()


def mailed_code(session, to: str) -> str:
    email = newest_email(session, to)
    assert email.sealed and email.subject == "Confirm your new GLOW Clinic email address"
    [code] = CODE.findall(sealing.content_of(email).text)
    return code


def code_for(client, session, tokens, new_email: str) -> str:
    """Ask for a change to `new_email` and read the code mailed there."""
    assert ask(client, tokens, new_email).status_code == 202
    return mailed_code(session, new_email)


def changes(session) -> int:
    return session.scalar(select(func.count()).select_from(EmailChange))


@pytest.fixture
def ann(client):
    return register(client, email="ann@example.com", name="Ann").json


def test_the_new_address_gets_a_code_and_the_old_one_a_notice(client, db_session, ann):
    response = ask(client, ann, "Ann.New@Example.com")
    assert response.status_code == 202, response.json
    assert response.json["new_email"] == "ann.new@example.com" and response.json["expires_at"]
    assert response.headers["Cache-Control"] == "no-store"

    code = mailed_code(db_session, "ann.new@example.com")
    assert code not in newest_email(db_session, "ann.new@example.com").text  # sealed
    notice = newest_email(db_session, "ann@example.com")
    assert notice.subject == "A change of email address was asked for"
    assert "ann.new@example.com" in notice.text and "reset your password" in notice.text
    # Nothing has changed yet: the old address still signs in, the new one does not.
    assert client.get("/api/v1/me", headers=bearer(ann)).json["email"] == "ann@example.com"
    assert login(client, email="ann.new@example.com").status_code == 401

    confirmed = confirm(client, ann, code)
    assert confirmed.status_code == 200, confirmed.json
    assert confirmed.json["email"] == "ann.new@example.com"
    assert login(client, email="ann.new@example.com").status_code == 200
    assert login(client, email="ann@example.com").status_code == 401
    assert client.get("/api/v1/me", headers=bearer(ann)).status_code == 200  # still signed in
    assert_problem(confirm(client, ann, code), 400, "invalid_email_change_token")


@pytest.mark.parametrize(("body", "status", "code"), [
    ({"new_email": "x@example.com", "password": "not the password"}, 401,
     "invalid_current_password"),
    ({"new_email": "ANN@example.com", "password": PASSWORD}, 422, "email_unchanged"),
    ({"new_email": "taken@example.com", "password": PASSWORD}, 409, "email_unavailable"),
    ({"new_email": "not-an-email", "password": PASSWORD}, 422, "validation_error"),
    ({"new_email": "x@example.com"}, 422, "validation_error"),
])
def test_refusals_change_nothing_and_mail_nothing(client, db_session, ann, body, status, code):
    register(client, email="taken@example.com")
    mails = db_session.scalar(select(func.count()).select_from(OutboxEmail))
    response = client.post(REQUEST, headers=bearer(ann), json=body)
    assert_problem(response, status, code)
    assert changes(db_session) == 0
    assert db_session.scalar(select(func.count()).select_from(OutboxEmail)) == mails


def test_the_request_needs_a_signed_in_customer(client):
    body = {"new_email": "x@example.com", "password": PASSWORD}
    assert client.post(REQUEST, json=body).status_code == 401
    assert client.post(CONFIRM, json={"token": "ec_x"}).status_code == 401


def test_a_code_works_only_for_the_account_that_asked(client, db_session, ann):
    """A mistyped address's owner gets the code, but cannot use it from another account."""
    code = code_for(client, db_session, ann, "stranger@example.com")
    stranger = register(client, email="someone@example.com").json
    assert_problem(confirm(client, stranger, code), 400, "invalid_email_change_token")
    assert login(client, email="ann@example.com").status_code == 200


def test_an_expired_code_is_refused(client, db_session, ann):
    code = code_for(client, db_session, ann, "later@example.com")
    change = db_session.scalars(select(EmailChange)).one()
    change.expires_at = utcnow() - timedelta(seconds=1)
    db_session.flush()
    assert_problem(confirm(client, ann, code), 400, "invalid_email_change_token")


def test_the_first_account_to_confirm_gets_the_address(client, db_session, ann):
    bob = register(client, email="bob@example.com").json
    ann_code = code_for(client, db_session, ann, "shared@example.com")
    bob_code = code_for(client, db_session, bob, "shared@example.com")
    assert confirm(client, bob, bob_code).status_code == 200
    assert_problem(confirm(client, ann, ann_code), 409, "email_unavailable")
    assert client.get("/api/v1/me", headers=bearer(ann)).json["email"] == "ann@example.com"


@pytest.mark.parametrize("how", ["password change", "password reset"])
def test_a_new_password_ends_a_waiting_change(client, db_session, ann, how):
    code = code_for(client, db_session, ann, "attacker@example.com")
    if how == "password change":
        response = client.post("/api/v1/me/password", headers=bearer(ann), json={
            "current_password": PASSWORD, "new_password": "a brand new passphrase"})
        assert response.status_code == 200
    else:
        reset_code = reset_flow.code_for(client, db_session, "ann@example.com")
        assert reset_flow.confirm(client, reset_code).status_code == 200
        ann = login(client, email="ann@example.com", password=reset_flow.NEW_PASSWORD).json
    assert_problem(confirm(client, ann, code), 400, "invalid_email_change_token")


def test_a_new_address_ends_reset_codes_mailed_to_the_old_one(client, db_session, ann):
    """Whoever still reads the old mailbox cannot take the account back with a reset code."""
    reset_code = reset_flow.code_for(client, db_session, "ann@example.com")
    moved = code_for(client, db_session, ann, "moved@example.com")
    assert confirm(client, ann, moved).status_code == 200
    assert_problem(reset_flow.confirm(client, reset_code), 400, "invalid_reset_token")
    assert login(client, email="moved@example.com").status_code == 200


def test_using_one_code_ends_the_others(client, db_session, ann):
    first = code_for(client, db_session, ann, "first@example.com")
    second = code_for(client, db_session, ann, "second@example.com")
    assert confirm(client, ann, second).status_code == 200
    assert_problem(confirm(client, ann, first), 400, "invalid_email_change_token")


def test_export_deletion_and_purge(client, db_session, ann):
    code = code_for(client, db_session, ann, "kept@example.com")
    export = client.get("/api/v1/me/export", headers=bearer(ann))
    [change] = export.json["email_changes"]
    assert change["new_email"] == "kept@example.com" and change["used_at"] is None
    assert code not in export.get_data(as_text=True)

    now = utcnow()
    assert purge_mailed_codes(session=db_session, now=now) == 0
    assert purge_mailed_codes(session=db_session, now=now + timedelta(days=1, minutes=61)) == 1

    ask(client, ann, "again@example.com")
    assert changes(db_session) == 1
    assert client.delete("/api/v1/me", headers=bearer(ann)).status_code == 204
    assert changes(db_session) == 0


def test_no_code_or_password_appears_in_logs_or_responses(client, db_session, ann, caplog):
    shop_logger = logging.getLogger("shop")
    shop_logger.addHandler(caplog.handler)
    caplog.set_level(logging.DEBUG, logger="shop")
    try:
        responses = [ask(client, ann, "hush@example.com")]
        code = mailed_code(db_session, "hush@example.com")
        responses += [confirm(client, ann, code), confirm(client, ann, code)]
    finally:
        shop_logger.removeHandler(caplog.handler)
    assert any(r.getMessage() == "email changed" for r in caplog.records)
    logged = "\n".join(f"{record.getMessage()} {record.__dict__}" for record in caplog.records)
    for secret in (code, PASSWORD):
        assert secret not in logged
        assert all(secret not in r.get_data(as_text=True) for r in responses)


def test_requests_and_confirmations_are_limited_per_ip(limited_app):
    app = limited_app(EMAIL_CHANGE_RATE_LIMIT="1 per minute",
                      EMAIL_CHANGE_CONFIRM_RATE_LIMIT="1 per minute")
    client = app.test_client()
    tokens = register(client, email="limited@example.com").json
    assert ask(client, tokens, "wrong@example.com", "wrong passphrase").status_code == 401
    assert_rate_limited(ask(client, tokens, "wrong@example.com"))
    assert confirm(client, tokens, "ec_guess").status_code == 400
    assert_rate_limited(confirm(client, tokens, "ec_guess"))


@pytest.mark.postgresql_only
def test_two_accounts_confirming_one_address_at_once(pooled_app):
    race_app = pooled_app(6)
    client = race_app.test_client()
    accounts = [register(client, email=f"racer{n}@example.com").json for n in range(4)]
    codes = []
    for tokens in accounts:
        assert ask(client, tokens, "prize@example.com").status_code == 202
        with race_app.app_context():
            codes.append(mailed_code(db.session, "prize@example.com"))
            db.session.remove()
    with ThreadPoolExecutor(max_workers=4) as pool:
        statuses = list(pool.map(
            lambda pair: confirm(race_app.test_client(), *pair).status_code,
            zip(accounts, codes, strict=True)))
    assert sorted(statuses) == [200, 409, 409, 409]
    with race_app.app_context():
        owners = db.session.scalars(select(User.id).where(
            User.email == "prize@example.com")).all()
        assert len(owners) == 1
        db.session.remove()