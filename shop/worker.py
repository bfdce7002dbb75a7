"""The background worker: a registry of periodic jobs and the `flask worker` loop that runs them.

A job is `fn(*, session, now) -> int` (how many items it processed), registered with
`@job("name", every_seconds=N)`. Each run gets a fresh app context and session and is
committed after it; a failing job is rolled back and logged and never stops the others.
Jobs that take rows lock them with `.with_for_update(skip_locked=True)`, so several worker
copies can share one PostgreSQL database.
"""

from __future__ import annotations

import importlib
import logging
import signal
import threading
import time
from collections.abc import Callable, Iterable, Mapping, MutableMapping
from dataclasses import dataclass
from datetime import datetime

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from shop.db import utcnow
from shop.extensions import db

log = logging.getLogger(__name__)

# Every module that registers jobs; a domain adds its own with a one-line edit.
JOB_MODULES = [
    "shop.notifications.jobs",
    "shop.accounts.jobs",
    "shop.idempotency.jobs",
    "shop.carts.jobs",
    "shop.payments.jobs",
    "shop.vouchers.jobs",
    "shop.admin.jobs",
    "shop.back_in_stock.jobs",
    "shop.enquiries.jobs",
]

JobFn = Callable[..., int]


@dataclass(frozen=True)
class Job:
    name: str
    every_seconds: float
    fn: JobFn
    setting: str | None = None  # a config key that, when set, overrides every_seconds

    def interval(self, config: Mapping) -> float:
        if self.setting and config.get(self.setting) is not None:
            return float(config[self.setting])
        return float(self.every_seconds)


_REGISTRY: dict[str, Job] = {}
_stop = threading.Event()


def job(name: str, every_seconds: float, *, setting: str | None = None) -> Callable[[JobFn], JobFn]:
    """Register `fn(*, session, now) -> int` to run every `every_seconds` in the worker."""

    def register(fn: JobFn) -> JobFn:
        existing = _REGISTRY.get(name)
        # Re-registering the same function (a module imported again) is harmless.
        if existing is not None and _identity(existing.fn) != _identity(fn):
            raise ValueError(f"worker job {name!r} is already registered by {existing.fn}")
        _REGISTRY[name] = Job(name, every_seconds, fn, setting)
        return fn

    return register


def _identity(fn: JobFn) -> tuple[str, str]:
    return fn.__module__, fn.__qualname__


def load_jobs() -> dict[str, Job]:
    for module in JOB_MODULES:
        importlib.import_module(module)
    return dict(_REGISTRY)


def stop_requested() -> bool:
    """True once the worker was asked to stop; long jobs check it between items."""
    return _stop.is_set()


def run_job(app: Flask, name: str, now: datetime | None = None) -> int:
    """Run one job now, in its own app context and session; commit, or roll back and raise."""
    registered = load_jobs()[name]
    with app.app_context():
        try:
            count = registered.fn(session=db.session, now=now or utcnow())
            db.session.commit()
        except BaseException:
            db.session.rollback()
            raise
    return count


def run_due_jobs(
    app: Flask,
    now: datetime | None = None,
    last_runs: MutableMapping[str, datetime] | None = None,
    *,
    only: Iterable[str] | None = None,
) -> dict[str, int]:
    """Run every job that is due and return {name: items processed} for those that succeeded.

    Without `last_runs` every job is due (a fresh worker runs them all); with it, a job runs
    when its interval has passed since its recorded last run, and the record is updated.
    """
    now = now or utcnow()
    wanted = set(only) if only is not None else None
    results: dict[str, int] = {}
    for name, registered in load_jobs().items():
        if wanted is not None and name not in wanted:
            continue
        if stop_requested():
            break
        if last_runs is not None:
            previous = last_runs.get(name)
            interval = registered.interval(app.config)
            if previous is not None and (now - previous).total_seconds() < interval:
                continue
            last_runs[name] = now
        try:
            results[name] = run_job(app, name, now)
        except Exception:
            log.exception("worker job %s failed; rolled back", name)
            continue
        if results[name]:
            log.info("worker job %s processed %s item(s)", name, results[name])
    return results


def run_worker(
    app: Flask, *, once: bool = False, poll_interval: float = 1.0,
    only: Iterable[str] | None = None,
) -> None:
    """Loop over the due jobs until SIGTERM/SIGINT (finishing the job in hand) or `once`."""
    registered = load_jobs()
    unknown = set(only or ()) - set(registered)
    if unknown:
        raise click.BadParameter(f"unknown job(s): {', '.join(sorted(unknown))}")
    _stop.clear()
    previous_handlers = _install_signal_handlers()
    log.info("worker started (jobs: %s)", ", ".join(only or registered))
    last_runs: dict[str, datetime] = {}
    try:
        while not stop_requested():
            started = time.monotonic()
            run_due_jobs(app, utcnow(), last_runs, only=only)
            if once:
                break
            _stop.wait(max(poll_interval - (time.monotonic() - started), 0.0))
    finally:
        for signum, handler in previous_handlers.items():
            signal.signal(signum, handler)
        log.info("worker stopped")


def _install_signal_handlers() -> dict[int, object]:
    if threading.current_thread() is not threading.main_thread():
        return {}

    def request_stop(signum, _frame) -> None:
        log.info("worker received %s: finishing the current job, then exiting",
                 signal.Signals(signum).name)
        _stop.set()

    previous = {}
    for signum in (signal.SIGTERM, signal.SIGINT):
        previous[signum] = signal.signal(signum, request_stop)
    return previous


@click.command("worker")
@with_appcontext
@click.option("--once", is_flag=True, help="Run every job once, then exit.")
@click.option("--poll-interval", type=click.FloatRange(min=0.05), default=None,
              help="Seconds between rounds of due jobs (default: WORKER_POLL_SECONDS).")
@click.option("--job", "jobs", multiple=True, metavar="NAME",
              help="Run only this job (repeatable); default: every registered job.")
def worker_command(once: bool, poll_interval: float | None, jobs: tuple[str, ...]) -> None:
    """Run the background jobs (outbox email, expiries, reconciliation) until stopped."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    interval = poll_interval if poll_interval is not None else app.config["WORKER_POLL_SECONDS"]
    run_worker(app, once=once, poll_interval=float(interval), only=jobs or None)
