"""Re-keying beside a running shop (PostgreSQL, a live server, real threads): tills spend
vouchers by code over HTTP while `flask keys rotate` re-keys those same rows, one per
transaction. Every spend finds its voucher, no balance is lost or taken twice, and afterwards
every code works under the new key alone. An email the worker holds is left for later."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from sqlalchemy import select

from shop.extensions import db
from shop.keys import services as keys
from shop.notifications.models import OutboxEmail
from shop.vouchers import services as vouchers
from tests.fixtures.auth import bearer_for, make_user
from tests.fixtures.live import serve_app
from tests.platform.test_outbox import outbox  # noqa: F401  (the `outbox` fixture)
from tests.platform.test_sealed_outbox import queue_sealed
from tests.vouchers.conftest import issue_money
from tests.vouchers.test_races import _ledger_state

pytestmark = [pytest.mark.postgresql_only, pytest.mark.slow]
OLD, NEW = "the-old-voucher-key-of-some-length", "the-new-voucher-key-of-some-length"
VOUCHERS, SPENDS_EACH, SPEND = 16, 3, 1000


def _issue_under_old_key(app, monkeypatch) -> tuple[list[tuple[int, str]], dict]:
    monkeypatch.setitem(app.config, "VOUCHER_KEY", OLD)
    with app.app_context():
        issued = [issue_money(db.session, 5000) for _ in range(VOUCHERS)]
        till = bearer_for(db.session, make_user(db.session, role="staff"))
        db.session.commit()
        result = [(each.voucher.id, each.code) for each in issued], till
        db.session.remove()
    return result


def _spend(base: str, headers: dict, code: str, start: threading.Event) -> int:
    start.wait()
    return requests.post(f"{base}/api/v1/admin/vouchers/{code}/redemptions", headers=headers,
                         json={"amount": {"amount": SPEND, "currency": "GBP"}, "note": "race"},
                         timeout=30).status_code


def _rotate(app, start: threading.Event) -> keys.KeyStatus:
    with app.app_context():
        start.wait()
        try:
            return keys.status(session=db.session, rotate=True)
        finally:
            db.session.remove()


def test_spending_while_rotating_loses_nothing(app, app_config, committed, monkeypatch):
    issued, till = _issue_under_old_key(app, monkeypatch)
    monkeypatch.setitem(app.config, "VOUCHER_KEY", NEW)
    monkeypatch.setitem(app.config, "VOUCHER_KEY_FALLBACKS", [OLD])
    monkeypatch.setattr(keys, "BATCH_SIZE", 1)  # a transaction per voucher: the most interleaving
    config = {**app_config, "VOUCHER_KEY": NEW, "VOUCHER_KEY_FALLBACKS": [OLD]}
    start = threading.Event()
    with serve_app(config) as base, ThreadPoolExecutor(max_workers=5) as pool:
        spends = [pool.submit(_spend, base, till, code, start)
                  for _ in range(SPENDS_EACH) for _voucher_id, code in issued]
        rotation = pool.submit(_rotate, app, start)
        start.set()
        statuses = [spend.result() for spend in spends]
        rotated = rotation.result()

    assert statuses == [201] * len(statuses)
    assert rotated.voucher_codes.rekeyed == VOUCHERS and rotated.voucher_codes.fallback == 0
    for voucher_id, _code in issued:
        voucher, total, _held = _ledger_state(app, voucher_id)
        assert voucher.balance_amount == total == 5000 - SPENDS_EACH * SPEND
    monkeypatch.setitem(app.config, "VOUCHER_KEY_FALLBACKS", [])
    with app.app_context():
        assert [vouchers.find_by_code(session=db.session, code=code).id
                for _voucher_id, code in issued] == [voucher_id for voucher_id, _ in issued]
        db.session.remove()


def test_an_email_the_worker_is_sending_is_left_for_the_next_run(app, outbox, monkeypatch):
    """The worker holds a sealed email's row while SMTP talks: re-keying does not wait for it,
    and counts it under its old key, so status does not call the fallback unneeded."""
    monkeypatch.setitem(app.config, "VOUCHER_KEY", OLD)
    with app.app_context():
        email_id = queue_sealed(db.session).id
        db.session.commit()
    monkeypatch.setitem(app.config, "VOUCHER_KEY", NEW)
    monkeypatch.setitem(app.config, "VOUCHER_KEY_FALLBACKS", [OLD])
    with app.app_context(), db.engine.connect() as worker:
        worker.execute(select(OutboxEmail.id).where(OutboxEmail.id == email_id)
                       .with_for_update())
        busy = keys.status(session=db.session, rotate=True)
        db.session.remove()
        worker.rollback()
    assert (busy.sealed_emails.fallback, busy.sealed_emails.rekeyed) == (1, 0)
    assert busy.fallbacks_needed

    with app.app_context():
        later = keys.status(session=db.session, rotate=True)
        db.session.remove()
    assert (later.sealed_emails.fallback, later.sealed_emails.rekeyed) == (0, 1)
