"""Two-factor sign-in over HTTP: enrolling with a real authenticator's codes (pyotp), signing in
with a code or a recovery code, each working once, turning it off, and the staff requirement."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pyotp
import pytest
import requests
from flask_migrate import downgrade, upgrade
from sqlalchemy import func, inspect, select, text

from shop.accounts import otp
from shop.accounts.models import RecoveryCode
from shop.audit.models import AuditEntry
from shop.db import utcnow
from shop.extensions import db
from shop.notifications.models import OutboxEmail
from tests.conftest import migrated_to
from tests.fixtures.auth import bearer_for, make_user
from tests.fixtures.live import serve_app

PASSWORD = "violet kettle harbour"
STEP = timedelta(seconds=30)


class Clock:
    """The time the server checks codes against, a step at a time (a real clock would make
    'the next code' a 30-second wait)."""

    def __init__(self) -> None:
        self.now = datetime(2030, 1, 1, 12, 0, 5, tzinfo=UTC)

    def tick(self, steps: int = 1) -> None:
        self.now += steps * STEP


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(otp, "utcnow", lambda: clock.now)
    return clock


@pytest.fixture
def ann(db_session):
    return make_user(db_session, email="ann@example.com", password=PASSWORD, name="Ann")


@pytest.fixture
def ann_headers(db_session, ann):
    return bearer_for(db_session, ann)


def code_at(secret: str, clock: Clock, steps: int = 0) -> str:
    return pyotp.TOTP(secret).at(clock.now + steps * STEP)


def assert_problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.content_type == "application/problem+json"
    assert response.json["code"] == code
    return response.json


def with_password(code: str) -> dict:
    """A confirm's body: the password and the code."""
    return {"password": PASSWORD, "code": code}


def sign_in(client, otp_code: str | None = None, *, email="ann@example.com", password=PASSWORD):
    body = {"email": email, "password": password}
    if otp_code is not None:
        body["otp"] = otp_code
    return client.post("/api/v1/auth/token", json=body)


def enrol(client, headers: dict, clock: Clock) -> tuple[str, list[str]]:
    """Set up and confirm; the clock then moves on a step, so the next code is a fresh one."""
    secret = client.post("/api/v1/me/two-factor/setup", headers=headers).json["secret"]
    confirmed = client.post("/api/v1/me/two-factor/confirm", headers=headers,
                            json=with_password(code_at(secret, clock)))
    assert confirmed.status_code == 200, confirmed.json
    clock.tick()
    return secret, confirmed.json["recovery_codes"]


# --- enrolling ------------------------------------------------------------------------------

def test_setup_answers_a_secret_for_the_app_and_changes_nothing_yet(client, ann_headers, clock):
    response = client.post("/api/v1/me/two-factor/setup", headers=ann_headers)
    assert response.status_code == 200, response.json
    assert response.headers["Cache-Control"] == "no-store"
    secret = response.json["secret"]
    assert len(secret) == 32 and pyotp.TOTP(secret).now().isdigit()
    uri = pyotp.parse_uri(response.json["otpauth_uri"])
    assert uri.secret == secret and uri.issuer == "GLOW Clinic" and uri.name == "ann@example.com"
    assert response.json["qr_svg"].startswith("<svg")
    assert client.get("/api/v1/me", headers=ann_headers).json["two_factor_enabled"] is False
    assert sign_in(client).status_code == 200  # pending: the password alone still signs in


def test_confirming_with_a_code_turns_it_on_and_answers_ten_recovery_codes(
        client, db_session, ann, ann_headers, clock):
    secret = client.post("/api/v1/me/two-factor/setup", headers=ann_headers).json["secret"]
    response = client.post("/api/v1/me/two-factor/confirm", headers=ann_headers,
                           json=with_password(code_at(secret, clock)))
    assert response.status_code == 200, response.json
    recovery_codes = response.json["recovery_codes"]
    assert len(set(recovery_codes)) == 10
    assert all(len(code) == 14 and code.count("-") == 2 for code in recovery_codes)
    assert client.get("/api/v1/me", headers=ann_headers).json["two_factor_enabled"] is True
    stored = db_session.scalars(select(RecoveryCode.code_hash)
                                .where(RecoveryCode.user_id == ann.id)).all()
    assert len(stored) == 10 and not set(stored) & set(recovery_codes)
    db_session.refresh(ann)
    assert ann.two_factor_secret and secret not in ann.two_factor_secret  # sealed at rest
    assert otp.open_secret(ann) == secret


def test_a_wrong_code_does_not_turn_it_on(client, ann_headers, clock):
    secret = client.post("/api/v1/me/two-factor/setup", headers=ann_headers).json["secret"]
    for wrong in ("000000" if code_at(secret, clock) != "000000" else "111111",
                  code_at(secret, clock, steps=2), "not a code"):
        assert_problem(client.post("/api/v1/me/two-factor/confirm", headers=ann_headers,
                                   json=with_password(wrong)), 400, "invalid_otp")
    assert client.get("/api/v1/me", headers=ann_headers).json["two_factor_enabled"] is False


def test_confirm_needs_the_password_too(client, ann_headers, clock):
    """Whoever stole a session cannot enrol their own app and shut the owner out."""
    secret = client.post("/api/v1/me/two-factor/setup", headers=ann_headers).json["secret"]
    assert_problem(client.post("/api/v1/me/two-factor/confirm", headers=ann_headers,
                               json={"password": "not the password",
                                     "code": code_at(secret, clock)}),
                   401, "invalid_current_password")
    assert client.post("/api/v1/me/two-factor/confirm", headers=ann_headers,
                       json={"code": code_at(secret, clock)}).status_code == 422
    assert client.get("/api/v1/me", headers=ann_headers).json["two_factor_enabled"] is False


def test_confirm_needs_a_setup_and_setup_refuses_once_it_is_on(client, ann_headers, clock):
    assert_problem(client.post("/api/v1/me/two-factor/confirm", headers=ann_headers,
                               json=with_password("123456")), 409, "two_factor_not_set_up")
    enrol(client, ann_headers, clock)
    assert_problem(client.post("/api/v1/me/two-factor/setup", headers=ann_headers),
                   409, "two_factor_enabled")
    assert_problem(client.post("/api/v1/me/two-factor/confirm", headers=ann_headers,
                               json=with_password("123456")), 409, "two_factor_enabled")


def test_a_second_setup_replaces_the_pending_secret(client, ann_headers, clock):
    first = client.post("/api/v1/me/two-factor/setup", headers=ann_headers).json["secret"]
    second = client.post("/api/v1/me/two-factor/setup", headers=ann_headers).json["secret"]
    assert first != second
    assert_problem(client.post("/api/v1/me/two-factor/confirm", headers=ann_headers,
                               json=with_password(code_at(first, clock))), 400, "invalid_otp")
    assert client.post("/api/v1/me/two-factor/confirm", headers=ann_headers,
                       json=with_password(code_at(second, clock))).status_code == 200


def test_enabling_keeps_this_session_and_signs_out_the_others(client, ann, ann_headers, clock):
    other = sign_in(client).json
    secret = client.post("/api/v1/me/two-factor/setup", headers=ann_headers).json["secret"]
    response = client.post("/api/v1/me/two-factor/confirm", headers=ann_headers,
                           json=with_password(code_at(secret, clock)))
    assert response.json["sessions_revoked"] == 1
    assert client.get("/api/v1/me", headers=ann_headers).status_code == 200
    assert_problem(client.get("/api/v1/me", headers={
        "Authorization": f"Bearer {other['access_token']}"}), 401, "invalid_token")


# --- signing in -----------------------------------------------------------------------------

def test_sign_in_asks_for_the_code_refuses_a_wrong_one_and_takes_the_right_one(
        client, ann_headers, clock):
    secret, _ = enrol(client, ann_headers, clock)
    missing = assert_problem(sign_in(client), 401, "otp_required")
    assert "access_token" not in missing
    assert_problem(sign_in(client, ""), 401, "otp_required")
    right = code_at(secret, clock)
    wrong = "000000" if right != "000000" else "111111"
    assert_problem(sign_in(client, wrong), 401, "invalid_otp")
    assert_problem(sign_in(client, right, password="wrong password!"), 401,
                   "invalid_credentials")  # the password is checked first, whatever the code
    tokens = sign_in(client, right)
    assert tokens.status_code == 200, tokens.json
    assert client.get("/api/v1/me", headers={
        "Authorization": f"Bearer {tokens.json['access_token']}"}).status_code == 200


def test_a_code_is_accepted_once_and_an_earlier_one_never_after(client, ann_headers, clock):
    secret, _ = enrol(client, ann_headers, clock)
    now, earlier = code_at(secret, clock), code_at(secret, clock, steps=-1)
    assert sign_in(client, now).status_code == 200
    assert_problem(sign_in(client, now), 401, "invalid_otp")  # replayed
    if earlier != now:
        assert_problem(sign_in(client, earlier), 401, "invalid_otp")
    clock.tick()
    assert sign_in(client, code_at(secret, clock)).status_code == 200


def test_the_code_of_the_step_before_or_after_works_but_not_further(client, ann_headers, clock):
    secret, _ = enrol(client, ann_headers, clock)
    clock.tick(5)
    far = {code_at(secret, clock, steps=offset) for offset in (-3, -2, 2, 3)}
    near = {code_at(secret, clock, steps=offset) for offset in (-1, 0, 1)}
    for code in far - near:
        assert_problem(sign_in(client, code), 401, "invalid_otp")
    assert sign_in(client, code_at(secret, clock, steps=-1)).status_code == 200
    assert sign_in(client, code_at(secret, clock, steps=1)).status_code == 200


def test_a_recovery_code_signs_in_once(client, ann_headers, clock):
    _, recovery_codes = enrol(client, ann_headers, clock)
    first, second = recovery_codes[:2]
    assert sign_in(client, first).status_code == 200
    assert_problem(sign_in(client, first), 401, "invalid_otp")
    typed = second.replace("-", " ").lower()  # as someone may type it
    assert sign_in(client, typed).status_code == 200
    export = client.get("/api/v1/me/export", headers=ann_headers).json
    assert export["two_factor"]["recovery_codes_left"] == 8


def test_another_accounts_recovery_code_does_not_work(client, db_session, ann_headers, clock):
    _, recovery_codes = enrol(client, ann_headers, clock)
    bob = make_user(db_session, email="bob@example.com", password=PASSWORD)
    _, bobs = enrol(client, bearer_for(db_session, bob), clock)
    assert_problem(sign_in(client, bobs[0]), 401, "invalid_otp")
    assert sign_in(client, bobs[0], email="bob@example.com").status_code == 200


def test_refresh_tokens_keep_working_with_two_factor_on(client, ann_headers, clock):
    secret, _ = enrol(client, ann_headers, clock)
    tokens = sign_in(client, code_at(secret, clock)).json
    refreshed = client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 200


def test_wrong_codes_count_against_the_sign_in_limits(limited_app, client, ann_headers, clock):
    secret, _ = enrol(client, ann_headers, clock)
    limited = limited_app(LOGIN_RATE_LIMIT="100 per minute",
                          LOGIN_EMAIL_RATE_LIMIT="3 per minute").test_client()
    right = code_at(secret, clock)
    wrong = "000000" if right != "000000" else "111111"
    assert [sign_in(limited, wrong).status_code for _ in range(3)] == [401, 401, 401]
    assert_problem(sign_in(limited, right), 429, "rate_limited")


def test_two_factor_endpoints_are_limited_per_account(limited_app, client, ann_headers, clock):
    limited = limited_app(TWO_FACTOR_RATE_LIMIT="2 per minute").test_client()
    for ip in ("192.0.2.1", "192.0.2.2"):
        response = limited.post("/api/v1/me/two-factor/confirm", headers=ann_headers,
                                json=with_password("123456"), environ_base={"REMOTE_ADDR": ip})
        assert response.status_code == 409
    assert_problem(limited.post("/api/v1/me/two-factor/confirm", headers=ann_headers,
                                json=with_password("123456"),
                                environ_base={"REMOTE_ADDR": "192.0.2.3"}), 429, "rate_limited")


# --- turning it off -------------------------------------------------------------------------

def test_disabling_needs_the_password_and_a_code(client, db_session, ann, ann_headers, clock):
    secret, _ = enrol(client, ann_headers, clock)
    other = sign_in(client, code_at(secret, clock)).json
    clock.tick()

    def disable(password, code):
        return client.post("/api/v1/me/two-factor/disable", headers=ann_headers,
                           json={"password": password, "code": code})

    right = code_at(secret, clock)
    wrong = "000000" if right != "000000" else "111111"
    assert_problem(disable("not the password", right), 401, "invalid_current_password")
    assert_problem(disable(PASSWORD, wrong), 401, "invalid_otp")
    assert disable(PASSWORD, None).status_code == 422
    response = disable(PASSWORD, right)
    assert response.status_code == 200 and response.json == {"sessions_revoked": 1}
    assert_problem(client.get("/api/v1/me", headers={
        "Authorization": f"Bearer {other['access_token']}"}), 401, "invalid_token")
    assert client.get("/api/v1/me", headers=ann_headers).json["two_factor_enabled"] is False
    assert sign_in(client).status_code == 200
    db_session.refresh(ann)
    assert (ann.two_factor_secret, ann.two_factor_enabled_at) == (None, None)
    assert db_session.scalar(select(func.count()).select_from(RecoveryCode)
                             .where(RecoveryCode.user_id == ann.id)) == 0
    notice = db_session.scalars(select(OutboxEmail).where(OutboxEmail.to == ann.email)
                                .order_by(OutboxEmail.id.desc())).first()
    assert "turned off" in notice.text
    assert_problem(disable(PASSWORD, right), 409, "two_factor_not_enabled")


def test_a_recovery_code_can_turn_it_off(client, ann_headers, clock):
    _, recovery_codes = enrol(client, ann_headers, clock)
    response = client.post("/api/v1/me/two-factor/disable", headers=ann_headers,
                           json=with_password(recovery_codes[3]))
    assert response.status_code == 200


def renew(client, headers: dict, password: str, code: str | None):
    return client.post("/api/v1/me/two-factor/recovery-codes", headers=headers,
                       json={"password": password, "code": code})


def test_new_recovery_codes_replace_the_old_ones(client, db_session, ann, ann_headers, clock):
    secret, old_codes = enrol(client, ann_headers, clock)
    right = code_at(secret, clock)
    assert_problem(renew(client, ann_headers, "not the password", right), 401,
                   "invalid_current_password")
    assert_problem(renew(client, ann_headers, PASSWORD, old_codes[0] + "X"), 401, "invalid_otp")
    assert renew(client, ann_headers, PASSWORD, None).status_code == 422

    response = renew(client, ann_headers, PASSWORD, right)
    assert response.status_code == 200, response.json
    assert response.headers["Cache-Control"] == "no-store"
    fresh = response.json["recovery_codes"]
    assert len(set(fresh)) == 10 and not set(fresh) & set(old_codes)
    clock.tick()
    assert_problem(sign_in(client, old_codes[1]), 401, "invalid_otp")
    assert sign_in(client, fresh[0]).status_code == 200
    assert client.get("/api/v1/me/export", headers=ann_headers).json["two_factor"][
        "recovery_codes_left"] == 9
    notice = db_session.scalars(select(OutboxEmail).where(OutboxEmail.to == ann.email)
                                .order_by(OutboxEmail.id.desc())).first()
    assert "New recovery codes" in notice.text


def test_a_recovery_code_can_renew_them_and_is_spent(client, ann_headers, clock):
    _, old_codes = enrol(client, ann_headers, clock)
    assert renew(client, ann_headers, PASSWORD, old_codes[2]).status_code == 200
    assert_problem(renew(client, ann_headers, PASSWORD, old_codes[2]), 401, "invalid_otp")


def test_renewing_needs_two_factor_on(client, ann_headers):
    assert_problem(renew(client, ann_headers, PASSWORD, "123456"), 409, "two_factor_not_enabled")


def test_staff_renewing_recovery_codes_is_audited(client, db_session, clock):
    staff = make_user(db_session, role="staff", email="desk-rc@example.com", password=PASSWORD)
    headers = bearer_for(db_session, staff)
    secret, _ = enrol(client, headers, clock)
    response = renew(client, headers, PASSWORD, code_at(secret, clock))
    assert response.status_code == 200, response.json
    entry = db_session.scalars(select(AuditEntry).where(
        AuditEntry.actor_id == staff.id, AuditEntry.action == "two_factor.recovery_codes")).one()
    assert entry.entity_id == str(staff.id)


# --- what is never shown, data export, account deletion -------------------------------------

def test_secrets_never_appear_after_setup_nor_in_logs(client, ann_headers, clock, caplog):
    with caplog.at_level(logging.DEBUG):
        secret, recovery_codes = enrol(client, ann_headers, clock)
        code = code_at(secret, clock)
        signed_in = sign_in(client, code)
        assert_problem(sign_in(client, recovery_codes[0] + "X"), 401, "invalid_otp")
        assert sign_in(client, recovery_codes[1]).status_code == 200
        later = [client.get("/api/v1/me", headers=ann_headers),
                 client.get("/api/v1/me/export", headers=ann_headers), signed_in]
    for response in later:
        text = response.get_data(as_text=True)
        assert secret not in text and not any(rc in text for rc in recovery_codes)
    logged = caplog.text + "".join(repr(record.__dict__) for record in caplog.records)
    for value in (secret, code, *recovery_codes):
        assert value not in logged


def test_the_export_says_whether_and_since_when_never_the_secret(client, ann_headers, clock):
    before = client.get("/api/v1/me/export", headers=ann_headers).json["two_factor"]
    assert before == {"enabled": False, "enabled_at": None, "recovery_codes_left": 0}
    enrol(client, ann_headers, clock)
    after = client.get("/api/v1/me/export", headers=ann_headers).json
    assert after["two_factor"]["enabled"] is True and after["two_factor"]["enabled_at"]
    assert after["two_factor"]["recovery_codes_left"] == 10
    assert after["profile"]["two_factor_enabled"] is True
    assert "two_factor_secret" not in str(after) and "two_factor_last_step" not in str(after)


def test_deleting_the_account_deletes_the_secret_and_recovery_codes(
        client, db_session, ann, ann_headers, clock):
    enrol(client, ann_headers, clock)
    assert client.delete("/api/v1/me", headers=ann_headers).status_code == 204
    db_session.refresh(ann)
    assert (ann.two_factor_secret, ann.two_factor_enabled_at, ann.two_factor_last_step) == (
        None, None, None)
    assert db_session.scalar(select(func.count()).select_from(RecoveryCode)
                             .where(RecoveryCode.user_id == ann.id)) == 0


# --- staff ----------------------------------------------------------------------------------

@pytest.fixture
def desk(db_session):
    return make_user(db_session, role="staff", email="desk@example.com", password=PASSWORD)


def test_staff_without_two_factor_are_refused_staff_tools_when_it_is_required(
        app, client, db_session, desk, clock, monkeypatch):
    headers = bearer_for(db_session, desk)
    assert client.get("/api/v1/admin/orders", headers=headers).status_code == 200
    monkeypatch.setitem(app.config, "STAFF_TWO_FACTOR_REQUIRED", True)
    assert_problem(client.get("/api/v1/admin/orders", headers=headers), 403,
                   "two_factor_required")
    assert client.get("/api/v1/me", headers=headers).status_code == 200  # can still enrol
    enrol(client, headers, clock)
    assert client.get("/api/v1/admin/orders", headers=headers).status_code == 200


def test_admins_are_held_to_it_as_well(app, client, db_session, clock, monkeypatch):
    admin = make_user(db_session, role="admin", password=PASSWORD)
    headers = bearer_for(db_session, admin)
    monkeypatch.setitem(app.config, "STAFF_TWO_FACTOR_REQUIRED", True)
    assert_problem(client.get("/api/v1/admin/staff", headers=headers), 403,
                   "two_factor_required")
    enrol(client, headers, clock)
    listed = client.get("/api/v1/admin/staff?per_page=100", headers=headers)
    assert listed.status_code == 200
    assert {member["id"]: member["two_factor_enabled"] for member in listed.json["items"]}[
        admin.id] is True


def test_customers_are_unaffected_by_the_staff_requirement(
        app, client, ann_headers, monkeypatch):
    monkeypatch.setitem(app.config, "STAFF_TWO_FACTOR_REQUIRED", True)
    assert client.get("/api/v1/me", headers=ann_headers).status_code == 200
    assert client.get("/api/v1/me/wishlist", headers=ann_headers).status_code == 200
    assert_problem(client.get("/api/v1/admin/orders", headers=ann_headers), 403,
                   "insufficient_role")


def test_the_requirement_costs_a_customer_request_no_query(
        app, client, ann_headers, count_queries, monkeypatch):
    client.get("/api/v1/me/wishlist", headers=ann_headers)
    count_queries.count = 0
    client.get("/api/v1/me/wishlist", headers=ann_headers)
    without = count_queries.count
    monkeypatch.setitem(app.config, "STAFF_TWO_FACTOR_REQUIRED", True)
    count_queries.count = 0
    client.get("/api/v1/me/wishlist", headers=ann_headers)
    assert count_queries.count == without


def test_staff_turning_it_on_and_off_is_audited(client, db_session, desk, clock):
    headers = bearer_for(db_session, desk)
    secret, _ = enrol(client, headers, clock)
    client.post("/api/v1/me/two-factor/disable", headers=headers,
                json=with_password(code_at(secret, clock)))
    entries = db_session.scalars(select(AuditEntry).where(AuditEntry.actor_id == desk.id)
                                 .order_by(AuditEntry.id)).all()
    assert [(entry.action, entry.after) for entry in entries] == [
        ("two_factor.enable", {"two_factor": True}), ("two_factor.disable", {"two_factor": False})]


def test_an_admin_turns_it_off_for_staff_who_lost_their_phone(
        client, db_session, desk, clock, admin_headers):
    desk_headers = bearer_for(db_session, desk)
    enrol(client, desk_headers, clock)
    url = f"/api/v1/admin/staff/{desk.id}"
    refused = client.patch(url, headers=admin_headers, json={"two_factor": True})
    assert refused.status_code == 422 and "two_factor" in refused.json["errors"]
    assert_problem(client.patch(url, headers=desk_headers, json={"two_factor": False}), 403,
                   "insufficient_role")  # staff cannot reset each other, or themselves
    response = client.patch(url, headers=admin_headers, json={"two_factor": False})
    assert response.status_code == 200, response.json
    assert response.json["two_factor_enabled"] is False
    assert client.get("/api/v1/me", headers=desk_headers).status_code == 401  # signed out
    assert sign_in(client, email="desk@example.com").status_code == 200  # the password alone
    entry = db_session.scalars(select(AuditEntry).where(AuditEntry.action == "staff.update")
                               .order_by(AuditEntry.id.desc())).first()
    assert (entry.before["two_factor"], entry.after["two_factor"]) == (True, False)
    told = db_session.scalars(select(OutboxEmail).where(OutboxEmail.to == "desk@example.com")
                              .order_by(OutboxEmail.id.desc())).first()
    assert "administrator turned two-step sign-in off" in told.text


# --- the migration --------------------------------------------------------------------------

@pytest.fixture
def at_0033(app_config, tmp_path, worker_id):
    with migrated_to(app_config, tmp_path, worker_id, "0033") as app:
        yield app


def user_columns() -> set[str]:
    return {column["name"] for column in inspect(db.engine).get_columns("users")}


def test_migration_0034_adds_two_factor_and_takes_it_away_keeping_the_accounts(at_0033):
    directory = at_0033.config["MIGRATIONS_DIR"]
    with db.engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO users (id, email, password_hash, name, role, marketing_consent, "
            "created_at, updated_at) VALUES (1, 'ann@example.com', '!x', 'Ann', 'staff', "
            "false, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"))
    upgrade(directory=directory, revision="0034")
    assert {"two_factor_secret", "two_factor_enabled_at", "two_factor_last_step"} <= user_columns()
    with db.engine.begin() as connection:
        assert connection.execute(text(
            "SELECT two_factor_secret, two_factor_enabled_at, two_factor_last_step FROM users"
        )).one() == (None, None, None)
        connection.execute(text(
            "UPDATE users SET two_factor_secret = 'sealed', two_factor_last_step = 63000000000, "
            "two_factor_enabled_at = CURRENT_TIMESTAMP"))
        connection.execute(text(
            "INSERT INTO two_factor_recovery_codes (user_id, code_hash, created_at) "
            "VALUES (1, :hash, CURRENT_TIMESTAMP)"), {"hash": "a" * 64})
    downgrade(directory=directory, revision="0033")
    assert not {"two_factor_secret", "two_factor_enabled_at"} & user_columns()
    assert "two_factor_recovery_codes" not in inspect(db.engine).get_table_names()
    with db.engine.connect() as connection:
        assert connection.execute(text("SELECT email, role FROM users")).all() == [
            ("ann@example.com", "staff")]


# --- races (PostgreSQL, a live server, real threads) ----------------------------------------

def _committed_two_factor_account(app) -> tuple[str, list[str]]:
    with app.app_context():
        user = make_user(db.session, email="racer@example.com", password=PASSWORD)
        secret = otp.new_secret()
        user.two_factor_secret = otp.seal_secret(user, secret)
        user.two_factor_enabled_at = utcnow()
        recovery_codes = otp.new_recovery_codes(session=db.session, user=user)
        db.session.commit()
        db.session.remove()
    return secret, recovery_codes


def _race(base: str, code: str) -> list[tuple[int, str | None]]:
    barrier = threading.Barrier(2)

    def attempt() -> tuple[int, str | None]:
        barrier.wait()
        response = requests.post(f"{base}/api/v1/auth/token", timeout=30, json={
            "email": "racer@example.com", "password": PASSWORD, "otp": code})
        return response.status_code, response.json().get("code")

    with ThreadPoolExecutor(max_workers=2) as pool:
        return sorted(future.result() for future in [pool.submit(attempt) for _ in range(2)])


@pytest.mark.postgresql_only
def test_two_sign_ins_with_one_recovery_code_at_once_only_one_gets_in(app, app_config,
                                                                      committed):
    _, recovery_codes = _committed_two_factor_account(app)
    with serve_app(app_config) as base:
        for code in recovery_codes[:5]:
            assert _race(base, code) == [(200, None), (401, "invalid_otp")]
    with app.app_context():
        used = db.session.scalars(select(RecoveryCode.used_at)).all()
        db.session.remove()
    assert sum(when is not None for when in used) == 5 and len(used) == 10


@pytest.mark.postgresql_only
def test_two_sign_ins_with_one_totp_code_at_once_only_one_gets_in(app, app_config, committed,
                                                                  clock):
    secret, _ = _committed_two_factor_account(app)
    with serve_app(app_config) as base:
        for _ in range(3):
            clock.tick()
            assert _race(base, code_at(secret, clock)) == [(200, None), (401, "invalid_otp")]
