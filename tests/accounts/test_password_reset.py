"""Forgotten passwords: the request says nothing about who has an account, the worker mails a
single-use code (sealed in the outbox) to active accounts only, and using it sets the password
and signs out every session; used, expired or unknown codes are 400."""

from __future__ import annotations

import logging
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from shop.accounts import codes, password_reset
from shop.accounts.jobs import purge_mailed_codes
from shop.accounts.models import PasswordReset, User
from shop.db import utcnow
from shop.extensions import db
from shop.notifications import sealing
from shop.notifications.models import OutboxEmail
from shop.worker import run_job
from tests.accounts.test_api import PASSWORD, assert_problem, bearer, login, register
from tests.accounts.test_ratelimits import assert_rate_limited

NEW_PASSWORD = "quiet lantern meadow"
REQUEST = "/api/v1/auth/password-reset"
CONFIRM = "/api/v1/auth/password-reset/confirm"
CODE = re.compile(r"^(pr_[A-Za-z0-9_-]{43})\r?$", re.MULTILINE)


def ask(client, email: str):
    return client.post(REQUEST, json={"email": email})


def confirm(client, token: str, new_password: str = NEW_PASSWORD):
    return client.post(CONFIRM, json={"token": token, "new_password": new_password})


def process(session, now=None) -> int:
    return password_reset.send_reset_emails(session=session, now=now or utcnow(), limit=100)


def mailed_code(session, to: str) -> str:
    """The code in the newest reset email to `to`, opened as the worker opens it."""
    email = session.scalars(select(OutboxEmail).where(OutboxEmail.to == to)
                            .order_by(OutboxEmail.id.desc())).first()
    assert email.sealed and email.subject == "Reset your GLOW Clinic password"
    [code] = CODE.findall(sealing.content_of(email).text)
    return code


def code_for(client, session, email: str) -> str:
    assert ask(client, email).status_code == 202
    process(session)
    return mailed_code(session, email)


def resets(session) -> int:
    return session.scalar(select(func.count()).select_from(PasswordReset))


def outbox_count(session) -> int:
    return session.scalar(select(func.count()).select_from(OutboxEmail))


# --- asking -------------------------------------------------------------------------------

def test_the_answer_is_the_same_whether_or_not_an_account_exists(client, db_session):
    register(client, email="known@example.com")
    known, unknown = ask(client, "Known@Example.com"), ask(client, "nobody@example.com")
    assert known.status_code == unknown.status_code == 202
    assert known.json == unknown.json == {
        "detail": "If an account has this address, a reset email is on its way."}
    assert known.headers["Cache-Control"] == "no-store"
    # Both wrote the same row, the address alone; nothing is mailed before the worker runs.
    rows = db_session.scalars(select(PasswordReset).order_by(PasswordReset.id)).all()
    assert [(r.email, r.user_id, r.token_hash) for r in rows] == [
        ("known@example.com", None, None), ("nobody@example.com", None, None)]
    assert db_session.scalar(select(func.count()).select_from(OutboxEmail)
                             .where(OutboxEmail.subject.like("Reset%"))) == 0


@pytest.mark.parametrize("body", [{}, {"email": "not-an-email"}, {"email": 7},
                                  {"email": "a@example.com", "extra": 1}])
def test_a_request_needs_one_email_address(client, db_session, body):
    response = client.post(REQUEST, json=body)
    assert response.status_code == 422 and response.content_type == "application/problem+json"
    assert resets(db_session) == 0


def test_the_worker_mails_active_accounts_and_forgets_other_addresses(client, db_session):
    register(client, email="active@example.com", name="Ada")
    register(client, email="disabled@example.com")
    db_session.scalars(select(User).where(User.email == "disabled@example.com")).one() \
        .disabled_at = utcnow()
    for email in ("active@example.com", "disabled@example.com", "nobody@example.com"):
        ask(client, email)
    mails_before = outbox_count(db_session)

    assert process(db_session) == 3
    [reset] = db_session.scalars(select(PasswordReset)).all()  # the others are deleted
    assert reset.email == "active@example.com" and reset.processed_at is not None
    assert reset.token_hash and reset.used_at is None
    assert reset.expires_at - reset.processed_at == timedelta(minutes=60)
    assert outbox_count(db_session) == mails_before + 1
    email = db_session.scalars(select(OutboxEmail).order_by(OutboxEmail.id.desc())).first()
    assert email.to == "active@example.com"
    code = mailed_code(db_session, "active@example.com")
    assert code not in email.text  # sealed: the database alone does not hold it
    assert password_reset.hash_token(code) == reset.token_hash
    text = sealing.content_of(email).text
    assert text.startswith("Hello Ada,") and "60 minutes" in text
    assert process(db_session) == 0  # each request is answered once


def test_the_email_links_to_the_storefront_when_configured(app, client, db_session,
                                                           monkeypatch):
    monkeypatch.setitem(app.config, "PASSWORD_RESET_URL",
                        "https://glow.example/reset?code={token}&from=email")
    register(client, email="linked@example.com")
    code = code_for(client, db_session, "linked@example.com")
    email = db_session.scalars(select(OutboxEmail).order_by(OutboxEmail.id.desc())).first()
    text = sealing.content_of(email).text
    assert f"https://glow.example/reset?code={code}&from=email" in text


@pytest.mark.parametrize(("template", "link"), [
    ("", None),
    ("https://glow.example/reset/{token}", "https://glow.example/reset/pr_a%2Fb"),
    ("https://glow.example/reset", "https://glow.example/reset?token=pr_a%2Fb"),
    ("https://glow.example/r?lang=en", "https://glow.example/r?lang=en&token=pr_a%2Fb"),
])
def test_mailed_link(app, monkeypatch, template, link):
    monkeypatch.setitem(app.config, "PASSWORD_RESET_URL", template)
    with app.app_context():
        assert codes.mailed_link("PASSWORD_RESET_URL", "pr_a/b") == link


# --- using the code -----------------------------------------------------------------------

def test_the_code_sets_the_password_and_signs_out_every_session(client, db_session):
    tokens = register(client, email="forgot@example.com").json
    other = login(client, email="forgot@example.com").json
    code = code_for(client, db_session, "forgot@example.com")

    response = confirm(client, code)
    assert response.status_code == 200, response.json
    assert response.json == {"sessions_revoked": 2}
    assert response.headers["Cache-Control"] == "no-store"
    for session_tokens in (tokens, other):
        assert client.get("/api/v1/me", headers=bearer(session_tokens)).status_code == 401
        refreshed = client.post("/api/v1/auth/refresh",
                                json={"refresh_token": session_tokens["refresh_token"]})
        assert refreshed.status_code == 401
    assert login(client, email="forgot@example.com").status_code == 401
    assert login(client, email="forgot@example.com", password=NEW_PASSWORD).status_code == 200
    user = db_session.scalars(select(User).where(User.email == "forgot@example.com")).one()
    assert user.password_changed_at is not None

    assert_problem(confirm(client, code, "another fine passphrase"), 400, "invalid_reset_token")


def test_a_weak_password_is_422_and_leaves_the_code_usable(client, db_session):
    register(client, email="weak@example.com")
    code = code_for(client, db_session, "weak@example.com")
    body = assert_problem(confirm(client, code, "short"), 422, "weak_password")
    assert "new_password" in body["errors"]
    assert_problem(confirm(client, code, "weak@example.com"), 422, "weak_password")
    assert confirm(client, code).status_code == 200


@pytest.mark.parametrize("token", ["pr_unknown", "", "x" * 201])
def test_an_unknown_or_malformed_code(client, db_session, token):
    response = confirm(client, token)
    if token == "pr_unknown":
        assert_problem(response, 400, "invalid_reset_token")
    else:
        assert_problem(response, 422, "validation_error")


def test_an_expired_code_is_refused(client, db_session):
    register(client, email="late@example.com")
    assert ask(client, "late@example.com").status_code == 202
    process(db_session, now=utcnow() - timedelta(minutes=61))
    code = mailed_code(db_session, "late@example.com")
    assert_problem(confirm(client, code), 400, "invalid_reset_token")
    assert login(client, email="late@example.com").status_code == 200  # unchanged


def test_using_one_code_ends_the_others(client, db_session):
    register(client, email="twice@example.com")
    first = code_for(client, db_session, "twice@example.com")
    second = code_for(client, db_session, "twice@example.com")
    assert first != second
    assert confirm(client, second).status_code == 200
    assert_problem(confirm(client, first, "yet another passphrase"), 400, "invalid_reset_token")


def test_changing_the_password_ends_a_waiting_code(client, db_session):
    tokens = register(client, email="changed@example.com").json
    code = code_for(client, db_session, "changed@example.com")
    response = client.post("/api/v1/me/password", headers=bearer(tokens), json={
        "current_password": PASSWORD, "new_password": "chosen while signed in"})
    assert response.status_code == 200
    assert_problem(confirm(client, code), 400, "invalid_reset_token")
    assert login(client, email="changed@example.com",
                 password="chosen while signed in").status_code == 200


def test_a_code_stops_working_when_the_account_is_disabled(client, db_session):
    register(client, email="closed@example.com")
    code = code_for(client, db_session, "closed@example.com")
    db_session.scalars(select(User).where(User.email == "closed@example.com")).one() \
        .disabled_at = utcnow()
    db_session.flush()
    assert_problem(confirm(client, code), 400, "invalid_reset_token")


def test_deleting_the_account_deletes_its_resets(client, db_session):
    tokens = register(client, email="leaving@example.com").json
    code_for(client, db_session, "leaving@example.com")
    ask(client, "leaving@example.com")  # one answered, one still waiting
    assert resets(db_session) == 2
    assert client.delete("/api/v1/me", headers=bearer(tokens)).status_code == 204
    assert resets(db_session) == 0


def test_the_data_export_lists_resets_without_their_codes(client, db_session):
    tokens = register(client, email="curious@example.com").json
    code = code_for(client, db_session, "curious@example.com")
    ask(client, "curious@example.com")  # not answered yet
    response = client.get("/api/v1/me/export", headers=bearer(tokens))
    assert response.status_code == 200
    answered, waiting = response.json["password_resets"]
    assert answered["requested_at"] and answered["mailed_at"] and answered["expires_at"]
    assert answered["used_at"] is None
    assert waiting["mailed_at"] is None and waiting["expires_at"] is None
    text = response.get_data(as_text=True)
    assert code not in text and "token" not in text


def test_finished_resets_are_purged_a_day_later(client, db_session):
    register(client, email="old@example.com")
    used = code_for(client, db_session, "old@example.com")
    confirm(client, used)
    code_for(client, db_session, "old@example.com")  # expires unused
    now = utcnow()
    assert purge_mailed_codes(session=db_session, now=now) == 0
    assert purge_mailed_codes(session=db_session, now=now + timedelta(days=1, minutes=61)) == 2
    assert resets(db_session) == 0


def test_no_code_or_password_appears_in_logs_or_responses(client, db_session, caplog):
    shop_logger = logging.getLogger("shop")
    shop_logger.addHandler(caplog.handler)
    caplog.set_level(logging.DEBUG, logger="shop")
    try:
        register(client, email="hush@example.com")
        responses = [ask(client, "hush@example.com")]
        process(db_session)
        code = mailed_code(db_session, "hush@example.com")
        responses += [confirm(client, code, "short"), confirm(client, code), confirm(client, code)]
    finally:
        shop_logger.removeHandler(caplog.handler)
    assert any(r.getMessage() == "password reset" for r in caplog.records)
    logged = "\n".join(f"{record.getMessage()} {record.__dict__}" for record in caplog.records)
    for secret in (code, NEW_PASSWORD, PASSWORD):
        assert secret not in logged
        assert all(secret not in r.get_data(as_text=True) for r in responses)


def test_requests_are_limited_per_address_and_per_ip(limited_app):
    client = limited_app(PASSWORD_RESET_RATE_LIMIT="100 per minute",
                         PASSWORD_RESET_EMAIL_RATE_LIMIT="2 per minute").test_client()
    for ip in ("198.51.100.1", "198.51.100.2"):
        assert client.post(REQUEST, json={"email": "target@example.com"},
                           environ_base={"REMOTE_ADDR": ip}).status_code == 202
    assert_rate_limited(client.post(REQUEST, json={"email": " TARGET@example.com"},
                                    environ_base={"REMOTE_ADDR": "198.51.100.3"}))

    client = limited_app(PASSWORD_RESET_CONFIRM_RATE_LIMIT="2 per minute").test_client()
    for _ in range(2):
        assert confirm(client, "pr_guess").status_code == 400
    assert_rate_limited(confirm(client, "pr_guess"))


# --- end to end, committed ------------------------------------------------------------------

@pytest.fixture
def mailing(app, committed, smtp_server, monkeypatch):
    monkeypatch.setitem(app.config, "SMTP_URL", smtp_server.url)
    return app


def test_the_customer_gets_the_code_by_smtp_and_signs_in_with_the_new_password(
        mailing, smtp_server):
    client = mailing.test_client()
    assert register(client, email="mailed@example.com", name="Mo").status_code == 201
    assert ask(client, "mailed@example.com").status_code == 202
    assert run_job(mailing, "accounts.password_resets") == 1
    assert run_job(mailing, "send_outbox") == 2  # with the registration's address check

    [message] = [m for m in smtp_server.wait_for(2) if CODE.search(
        m.get_body(("plain",)).get_content())]
    assert message["To"] == "mailed@example.com"
    [code] = CODE.findall(message.get_body(("plain",)).get_content())
    with mailing.app_context():  # sent: the outbox keeps no copy of the code
        email = db.session.scalars(select(OutboxEmail).where(
            OutboxEmail.subject == message["Subject"])).one()
        assert email.status == "sent" and code not in (email.text or "")
        db.session.remove()
    assert confirm(client, code).json == {"sessions_revoked": 1}
    assert login(client, email="mailed@example.com", password=NEW_PASSWORD).status_code == 200


@pytest.mark.postgresql_only
def test_a_code_used_by_several_requests_at_once_works_once(pooled_app):
    threads = 8
    race_app = pooled_app(threads + 2)
    client = race_app.test_client()
    register(client, email="race@example.com")
    ask(client, "race@example.com")
    with race_app.app_context():
        process(db.session)
        code = mailed_code(db.session, "race@example.com")
        db.session.commit()
        db.session.remove()
    passwords = [f"racing passphrase number {n}" for n in range(threads)]
    with ThreadPoolExecutor(max_workers=threads) as pool:
        statuses = list(pool.map(
            lambda password: confirm(race_app.test_client(), code, password).status_code,
            passwords))
    assert sorted(statuses) == [200] + [400] * (threads - 1)
    winner = passwords[statuses.index(200)]
    assert login(client, email="race@example.com", password=winner).status_code == 200