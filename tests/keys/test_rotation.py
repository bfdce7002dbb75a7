"""Rotating VOUCHER_KEY and SECRET_KEY: what an earlier key made keeps working while it is listed
as a fallback, `flask keys rotate` moves what it can under the new key, and `flask keys status`
says when the fallback can go."""

from __future__ import annotations

from types import SimpleNamespace

import pyotp
import pytest
from sqlalchemy import select, text, update

from shop import crypto
from shop.accounts import marketing, otp
from shop.accounts.models import RecoveryCode, User
from shop.errors import BadRequest
from shop.extensions import db
from shop.keys import services as keys
from shop.notifications import sealing
from shop.notifications.models import OutboxEmail
from shop.vouchers import codes
from shop.vouchers import services as vouchers
from shop.vouchers.models import Voucher
from tests.accounts.test_two_factor import (  # noqa: F401  (the `clock` fixture)
    PASSWORD,
    clock,
    code_at,
    enrol,
    sign_in,
)
from tests.conftest import migrated_to
from tests.fixtures.auth import bearer_for, make_user
from tests.platform.test_outbox import load, outbox, send_outbox  # noqa: F401  (`outbox`)
from tests.platform.test_sealed_outbox import SECRET_PDF, SECRET_TEXT, queue_sealed
from tests.vouchers.conftest import issue_money
from tests.vouchers.test_checkout import apply, new_cart

OLD, NEW = "the-old-voucher-key-of-some-length", "the-new-voucher-key-of-some-length"


@pytest.fixture
def voucher_key(app, monkeypatch):
    """Set VOUCHER_KEY and its fallbacks on the suite's app for one test."""
    def use(current: str, *fallbacks: str) -> None:
        monkeypatch.setitem(app.config, "VOUCHER_KEY", current)
        monkeypatch.setitem(app.config, "VOUCHER_KEY_FALLBACKS", list(fallbacks))

    use(OLD)
    return use


@pytest.fixture
def cli(app):
    return app.test_cli_runner()


def run(cli, *args: str, exit_code: int = 0) -> str:
    result = cli.invoke(args=["keys", *args])
    assert result.exit_code == exit_code, result.output
    return result.output


# --- voucher codes ---------------------------------------------------------------------------

def test_a_code_issued_before_the_rotation_works_while_its_key_is_a_fallback(
        client, db_session, voucher_key):
    issued = issue_money(db_session)
    db_session.commit()

    voucher_key(NEW)  # changed without listing the old key: the code is lost
    assert vouchers.find_by_code(session=db_session, code=issued.code) is None
    assert apply(client, new_cart(client), issued.code).status_code == 422  # not usable

    voucher_key(NEW, OLD)
    assert vouchers.find_by_code(session=db_session, code=issued.code).id == issued.voucher.id
    assert vouchers.code_for(issued.voucher) == issued.code
    response = apply(client, new_cart(client), codes.display(issued.code))
    assert response.status_code == 200, response.json


def test_rotate_rekeys_voucher_codes_and_status_says_when_the_fallback_can_go(
        cli, db_session, voucher_key):
    first, second = issue_money(db_session), issue_money(db_session, amount=2500)
    db_session.commit()
    voucher_key(NEW, OLD)
    fresh = issue_money(db_session, amount=1000)  # made under the new key
    db_session.commit()

    output = run(cli, "status", "--check", exit_code=1)
    assert "voucher codes: " in output and "VOUCHER_KEY_FALLBACKS is still needed." in output
    status = keys.status(session=db_session)
    assert (status.voucher_codes.fallback, status.voucher_codes.rekeyed) == (2, 0)

    output = run(cli, "rotate")
    assert "(2 re-keyed now)" in output
    assert "VOUCHER_KEY_FALLBACKS can be removed" in output
    for issued in (first, second, fresh):
        row = db_session.get(Voucher, issued.voucher.id)
        db_session.refresh(row)
        assert row.code_hash == codes.lookup_hash(issued.code, secret=NEW)
        assert codes.decrypt(row.code_encrypted, secret=NEW) == issued.code

    voucher_key(NEW)
    assert vouchers.find_by_code(session=db_session, code=first.code).id == first.voucher.id
    run(cli, "status", "--check")
    assert keys.status(session=db_session).voucher_codes.current >= 3


def test_rotating_again_changes_nothing(cli, db_session, voucher_key):
    issue_money(db_session)
    db_session.commit()
    voucher_key(NEW, OLD)
    assert keys.status(session=db_session, rotate=True).voucher_codes.rekeyed >= 1
    again = keys.status(session=db_session, rotate=True)
    assert (again.voucher_codes.rekeyed, again.voucher_codes.fallback) == (0, 0)


def test_a_code_replaced_while_rotating_keeps_the_replacement(db_session, voucher_key):
    """The re-key is conditional on the value it read: staff replacing the code meanwhile win."""
    issued = issue_money(db_session)
    db_session.commit()
    voucher_key(NEW, OLD)
    read = db_session.get(Voucher, issued.voucher.id)
    stale_encrypted = read.code_encrypted
    replacement = codes.generate_code()
    db_session.execute(update(Voucher).where(Voucher.id == read.id).values(
        code_hash=codes.lookup_hash(replacement, secret=NEW),
        code_encrypted=codes.encrypt(replacement, secret=NEW)))
    as_read = SimpleNamespace(id=read.id, code_encrypted=stale_encrypted)  # before staff wrote

    assert keys._rekey_voucher(db_session, as_read, issued.code, NEW) is False
    db_session.expire_all()
    assert vouchers.find_by_code(session=db_session, code=replacement).id == read.id
    assert vouchers.find_by_code(session=db_session, code=issued.code) is None


def test_a_code_under_a_dropped_key_is_counted_as_unreadable(cli, db_session, voucher_key):
    issue_money(db_session)
    db_session.commit()
    voucher_key(NEW)
    status = keys.status(session=db_session, rotate=True)
    assert status.voucher_codes.unreadable >= 1 and status.voucher_codes.rekeyed == 0


# --- sealed emails ---------------------------------------------------------------------------

def test_a_sealed_email_waiting_in_the_outbox_is_resealed_and_sent(
        outbox, smtp_server, voucher_key, cli):
    with outbox.app_context():
        email_id = queue_sealed(db.session).id
        db.session.commit()
    voucher_key(NEW, OLD)
    assert "sealed emails not sent yet: 1 under VOUCHER_KEY (1 re-keyed now)" in run(cli, "rotate")

    voucher_key(NEW)
    with outbox.app_context():
        email = db.session.get(OutboxEmail, email_id)
        assert sealing.content_of(email, key=sealing.outbox_key(NEW)).attachments[0][2] \
            == SECRET_PDF
    assert send_outbox(outbox) == 1
    [message] = smtp_server.wait_for(1)
    assert message.get_body(("plain",)).get_content().strip() == SECRET_TEXT
    assert load(outbox, email_id).status == "sent"


def test_the_worker_opens_an_email_sealed_under_a_fallback(outbox, smtp_server, voucher_key):
    with outbox.app_context():
        email_id = queue_sealed(db.session).id
        db.session.commit()
    voucher_key(NEW, OLD)
    assert send_outbox(outbox) == 1
    smtp_server.wait_for(1)
    assert load(outbox, email_id).status == "sent"


# --- two-factor ------------------------------------------------------------------------------

def test_two_factor_survives_the_rotation_and_old_recovery_codes_need_the_fallback(
        client, cli, db_session, voucher_key, clock):
    ann = make_user(db_session, email="ann-keys@example.com", password=PASSWORD)
    secret, recovery_codes = enrol(client, bearer_for(db_session, ann), clock)

    voucher_key(NEW, OLD)
    assert sign_in(client, code_at(secret, clock), email=ann.email).status_code == 200
    clock.tick()
    assert sign_in(client, recovery_codes[0], email=ann.email).status_code == 200
    output = run(cli, "rotate", "--show-accounts")
    assert "two-factor secrets: " in output and "re-keyed now" in output
    assert "ann-keys@example.com" in output
    assert "VOUCHER_KEY_FALLBACKS is still needed." in output  # the recovery codes
    db_session.expire_all()
    assert otp.opened_secret(db_session.get(User, ann.id)) == (secret, NEW)

    voucher_key(NEW)  # the fallback dropped: the authenticator app still works ...
    assert sign_in(client, code_at(secret, clock), email=ann.email).status_code == 200
    clock.tick()  # ... recovery codes made under the old key no longer do
    assert sign_in(client, recovery_codes[1], email=ann.email).status_code == 401


def test_new_recovery_codes_record_their_key(client, db_session, voucher_key, clock):
    ann = make_user(db_session, email="ann-keys@example.com", password=PASSWORD)
    voucher_key(NEW, OLD)
    enrol(client, bearer_for(db_session, ann), clock)
    stored = db_session.scalars(select(RecoveryCode.key_id)
                                .where(RecoveryCode.user_id == ann.id)).all()
    assert set(stored) == {crypto.key_id(NEW)} and crypto.key_id(NEW) != crypto.key_id(OLD)
    status = keys.recovery_code_tally(session=db_session)
    assert status.current >= 1 and "ann-keys@example.com" not in status.accounts_on_fallbacks


# --- signed links (SECRET_KEY) ---------------------------------------------------------------

def test_links_signed_with_an_earlier_secret_key_work_while_it_is_listed(
        app, db_session, monkeypatch):
    user = make_user(db_session, email="links@example.com")
    user.marketing_consent = True
    old_token = marketing._token(user)
    monkeypatch.setitem(app.config, "SECRET_KEY", "a-brand-new-secret-key")
    monkeypatch.setitem(app.config, "SECRET_KEY_FALLBACKS", [])
    with pytest.raises(BadRequest, match="link"):
        marketing.unsubscribe(session=db_session, token=old_token)

    monkeypatch.setitem(app.config, "SECRET_KEY_FALLBACKS", ["test-secret-key"])
    marketing.unsubscribe(session=db_session, token=old_token)
    db_session.refresh(user)
    assert user.marketing_consent is False
    assert marketing._token(user) != old_token  # new links are signed with the new key


# --- configuration and the migration ---------------------------------------------------------

def test_production_refuses_the_development_key_as_a_fallback():
    from shop.config import DEFAULT_VOUCHER_KEY, ConfigError, check_production, from_environment

    config = from_environment("/tmp", {
        "SHOP_ENV": "production", "SECRET_KEY": "s" * 40, "VOUCHER_KEY": "v" * 40,
        "STRIPE_WEBHOOK_SECRET": "whsec_x",
        "VOUCHER_KEY_FALLBACKS": f"an-older-key, {DEFAULT_VOUCHER_KEY}"})
    assert config["VOUCHER_KEY_FALLBACKS"] == ["an-older-key", DEFAULT_VOUCHER_KEY]
    with pytest.raises(ConfigError, match="VOUCHER_KEY_FALLBACKS lists the development default"):
        check_production(config)


@pytest.fixture
def at_0037(app_config, tmp_path, worker_id):
    with migrated_to(app_config, tmp_path, worker_id, "0037") as app:
        yield app


def test_migration_0038_records_the_current_key_for_existing_recovery_codes(at_0037):
    from flask_migrate import upgrade

    with db.engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO users (id, email, password_hash, name, role, marketing_consent, "
            "created_at, updated_at) VALUES (1, 'ann@example.com', '!x', 'Ann', 'customer', "
            "false, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"))
        connection.execute(text(
            "INSERT INTO two_factor_recovery_codes (user_id, code_hash, created_at) "
            "VALUES (1, :hash, CURRENT_TIMESTAMP)"), {"hash": "a" * 64})
    upgrade(directory=at_0037.config["MIGRATIONS_DIR"], revision="0038")
    with db.engine.connect() as connection:
        assert connection.execute(text("SELECT key_id FROM two_factor_recovery_codes")).all() \
            == [(crypto.key_id(at_0037.config["VOUCHER_KEY"]),)]


def test_totp_codes_still_match_after_resealing(db_session, voucher_key):
    user = make_user(db_session, email="seal@example.com")
    secret = otp.new_secret()
    user.two_factor_secret = otp.seal_secret(user, secret)
    voucher_key(NEW, OLD)
    assert otp.opened_secret(user) == (secret, OLD)
    assert pyotp.TOTP(otp.open_secret(user)).now() == pyotp.TOTP(secret).now()
