"""The worker: periodic jobs in their own transactions, failures isolated, a graceful stop on
SIGTERM, several copies on PostgreSQL, and a crash that neither loses nor duplicates email."""

from __future__ import annotations

import inspect
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from inspect import Parameter
from pathlib import Path

import pytest
from sqlalchemy import delete, select

from shop import worker
from shop.db import utcnow
from shop.extensions import db
from shop.notifications import services as notifications
from shop.notifications.models import OutboxEmail

ROOT = Path(__file__).resolve().parents[2]
FLASK = Path(sys.executable).with_name("flask")


@pytest.fixture
def fake_jobs(monkeypatch):
    """An empty job registry for the test to fill; the stop flag is reset afterwards."""
    monkeypatch.setattr(worker, "JOB_MODULES", [])
    monkeypatch.setattr(worker, "_REGISTRY", {})
    yield worker
    worker._stop.clear()


def clear_outbox(app) -> None:
    with app.app_context():
        db.session.execute(delete(OutboxEmail))
        db.session.commit()


@pytest.fixture
def outbox(app, smtp_server, monkeypatch):
    """The app pointed at the test SMTP server, with an empty outbox before and after (these
    tests write nothing else, so that is all the cleaning the committed work needs)."""
    monkeypatch.setitem(app.config, "SMTP_URL", smtp_server.url)
    clear_outbox(app)
    yield app
    clear_outbox(app)


def queue_many(app, count: int, prefix: str) -> list[str]:
    subjects = [f"{prefix} {n:02d}" for n in range(count)]
    with app.app_context():
        for n, subject in enumerate(subjects):
            notifications.enqueue_email(
                session=db.session, to=f"{prefix}{n}@example.com", subject=subject, text="Hello"
            )
        db.session.commit()
    return subjects


def statuses(app) -> dict[str, str]:
    with app.app_context():
        return dict(db.session.execute(select(OutboxEmail.subject, OutboxEmail.status)).all())


def start_worker(app, smtp_server, tmp_path, name: str) -> subprocess.Popen:
    """`flask worker` as a real process on the test database."""
    env = {
        **os.environ,
        "FLASK_APP": "wsgi:app",
        "SHOP_ENV": "test",
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "SMTP_URL": smtp_server.url,
        "OUTBOX_SEND_EVERY_SECONDS": "0",
    }
    log_file = (tmp_path / f"{name}.log").open("wb")
    return subprocess.Popen(
        [str(FLASK), "worker", "--job", "send_outbox", "--poll-interval", "0.1"],
        cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT,
    )


def worker_log(tmp_path, name: str) -> str:
    return (tmp_path / f"{name}.log").read_text(errors="replace")


def test_jobs_run_when_their_interval_has_passed(app, fake_jobs):
    @fake_jobs.job("tick", every_seconds=60)
    def tick(*, session, now):
        return 1

    last_runs = {}
    t0 = utcnow()
    assert fake_jobs.run_due_jobs(app, t0, last_runs) == {"tick": 1}
    assert fake_jobs.run_due_jobs(app, t0 + timedelta(seconds=30), last_runs) == {}
    assert fake_jobs.run_due_jobs(app, t0 + timedelta(seconds=60), last_runs) == {"tick": 1}
    # Without a schedule (a fresh worker), every job is due.
    assert fake_jobs.run_due_jobs(app, t0 + timedelta(seconds=61)) == {"tick": 1}


def test_a_setting_overrides_the_interval(app, fake_jobs, monkeypatch):
    @fake_jobs.job("tock", every_seconds=3600, setting="TEST_TOCK_SECONDS")
    def tock(*, session, now):
        return 2

    monkeypatch.setitem(app.config, "TEST_TOCK_SECONDS", 5)
    last_runs = {}
    t0 = utcnow()
    assert fake_jobs.run_due_jobs(app, t0, last_runs) == {"tock": 2}
    assert fake_jobs.run_due_jobs(app, t0 + timedelta(seconds=5), last_runs) == {"tock": 2}


def test_a_failing_job_is_rolled_back_and_the_others_still_run(app, fake_jobs, caplog):
    @fake_jobs.job("breaks", every_seconds=1)
    def breaks(*, session, now):
        notifications.enqueue_email(
            session=session, to="x@example.com", subject="never", text="x",
            dedupe_key="rolled-back-by-worker",
        )
        raise RuntimeError("job bug")

    @fake_jobs.job("works", every_seconds=1)
    def works(*, session, now):
        return 7

    logger = logging.getLogger("shop.worker")
    logger.addHandler(caplog.handler)
    try:
        assert fake_jobs.run_due_jobs(app, utcnow()) == {"works": 7}
    finally:
        logger.removeHandler(caplog.handler)

    assert "worker job breaks failed" in caplog.text and "job bug" in caplog.text
    with app.app_context():
        leftover = db.session.scalars(
            select(OutboxEmail).where(OutboxEmail.dedupe_key == "rolled-back-by-worker")
        ).all()
    assert leftover == []


def test_a_stop_request_lets_the_current_job_finish_and_skips_the_rest(app, fake_jobs):
    @fake_jobs.job("first", every_seconds=1)
    def first(*, session, now):
        fake_jobs._stop.set()  # SIGTERM arrives while this job runs
        return 1

    @fake_jobs.job("second", every_seconds=1)
    def second(*, session, now):
        return 1

    assert fake_jobs.run_due_jobs(app, utcnow()) == {"first": 1}


def test_duplicate_job_names_are_refused(fake_jobs):
    @fake_jobs.job("same", every_seconds=1)
    def one(*, session, now):
        return 0

    with pytest.raises(ValueError):
        @fake_jobs.job("same", every_seconds=1)
        def other(*, session, now):
            return 0


def test_flask_worker_once_sends_the_queued_email(outbox, smtp_server):
    queue_many(outbox, 2, "once")

    result = outbox.test_cli_runner().invoke(args=["worker", "--once", "--job", "send_outbox"])

    assert result.exit_code == 0, result.output
    assert sorted(m["Subject"] for m in smtp_server.wait_for(2)) == ["once 00", "once 01"]
    assert set(statuses(outbox).values()) == {"sent"}


def test_flask_worker_refuses_unknown_jobs(app):
    result = app.test_cli_runner().invoke(args=["worker", "--once", "--job", "nope"])
    assert result.exit_code == 2 and "unknown job(s): nope" in result.output


def test_every_registered_job_takes_keyword_only_session_and_now():
    jobs = worker.load_jobs()
    assert {"send_outbox", "purge_idempotency_keys"} <= set(jobs)
    for name, registered in jobs.items():
        parameters = inspect.signature(registered.fn).parameters
        assert {"session", "now"} <= set(parameters), name
        assert {parameters[p].kind for p in ("session", "now")} == {Parameter.KEYWORD_ONLY}, name
        assert registered.every_seconds > 0, name


@pytest.mark.postgresql_only
def test_two_workers_send_each_of_50_emails_exactly_once(
    committed, outbox, smtp_server, monkeypatch
):
    monkeypatch.setitem(outbox.config, "OUTBOX_BATCH_SIZE", 5)
    subjects = queue_many(outbox, 50, "pair")
    start = threading.Barrier(2)
    processed = [0, 0]
    errors = []

    def drain(index: int) -> None:
        try:
            start.wait(5)
            while (count := worker.run_job(outbox, "send_outbox")) > 0:
                processed[index] += count
        except Exception as exc:  # surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=drain, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert errors == []
    received = smtp_server.wait_for(50)
    time.sleep(0.2)  # a duplicate would arrive now
    assert sorted(m["Subject"] for m in smtp_server.messages) == subjects
    assert len({m["Message-ID"] for m in received}) == 50
    assert sum(processed) == 50 and min(processed) > 0  # both workers took a share
    assert set(statuses(outbox).values()) == {"sent"}


def test_worker_killed_mid_batch_and_restarted_delivers_every_email_once(
    committed, outbox, smtp_server, tmp_path
):
    subjects = queue_many(outbox, 12, "kill")
    smtp_server.pause_after(5)  # the 6th email is held in the middle of its SMTP exchange
    first = start_worker(outbox, smtp_server, tmp_path, "first")
    try:
        assert smtp_server.paused.wait(30), worker_log(tmp_path, "first")
    finally:
        first.kill()
        first.wait(10)
    smtp_server.resume()
    assert sorted(statuses(outbox).values()).count("sent") == 5

    second = start_worker(outbox, smtp_server, tmp_path, "second")
    try:
        smtp_server.wait_for(12, timeout=30)
    finally:
        second.send_signal(signal.SIGTERM)
        assert second.wait(15) == 0, worker_log(tmp_path, "second")

    assert sorted(m["Subject"] for m in smtp_server.messages) == subjects
    assert set(statuses(outbox).values()) == {"sent"}


def test_sigterm_finishes_the_email_in_flight_then_exits(
    committed, outbox, smtp_server, tmp_path
):
    queue_many(outbox, 4, "term")
    smtp_server.pause_after(1)  # hold the 2nd email mid-transaction
    process = start_worker(outbox, smtp_server, tmp_path, "term")
    try:
        assert smtp_server.paused.wait(30), worker_log(tmp_path, "term")
        process.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        assert process.poll() is None  # still finishing the email in hand
        smtp_server.resume()
        assert process.wait(15) == 0, worker_log(tmp_path, "term")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)

    assert sorted(m["Subject"] for m in smtp_server.messages) == ["term 00", "term 01"]
    assert statuses(outbox) == {
        "term 00": "sent", "term 01": "sent", "term 02": "pending", "term 03": "pending",
    }
    assert "finishing the current job" in worker_log(tmp_path, "term")
