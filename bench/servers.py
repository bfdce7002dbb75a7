"""What a bench run stands up: a fresh PostgreSQL database, gunicorn servers, localstripe."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SERVER_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
WEBHOOK_SECRET = "whsec_bench_secret"
STRIPE_SECRET_KEY = "sk_test_bench"
# Production mode (HSTS, JSON logs off the hot path at WARNING) with throwaway secrets. The
# catalogue response cache keeps its default. Rate limits: none of the benchmarked routes
# carries one, and the per-IP limits that exist (sign-in, order sync, voucher look-ups) are
# raised so that nothing a scenario might touch is ever refused.
SHOP_ENV = {
    "SHOP_ENV": "production",
    "SECRET_KEY": "bench-secret-key-not-for-production",
    "VOUCHER_KEY": "bench-voucher-key-not-for-production",
    "STRIPE_SECRET_KEY": STRIPE_SECRET_KEY,
    "STRIPE_PUBLISHABLE_KEY": "pk_test_bench",
    "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
    "STRIPE_MAX_RETRIES": "0",
    "LOG_LEVEL": "WARNING",
    "LOG_JSON": "false",
    "ORDER_SYNC_RATE_LIMIT": "1000000 per second",
    "LOGIN_RATE_LIMIT": "1000000 per second",
    "VOUCHER_LOOKUP_RATE_LIMIT": "1000000 per second",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fresh_database(name: str) -> str:
    """Drop and create `name` on the bench server; its SQLAlchemy URL."""
    admin = create_engine(SERVER_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(SERVER_URL).set(database=name).render_as_string(hide_password=False)


def vacuum_analyze(database_url: str) -> None:
    """Fresh planner statistics after the bulk seed, as autovacuum would leave them."""
    engine = create_engine(database_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text("VACUUM ANALYZE"))
    engine.dispose()


def shop_environment(database_url: str, stripe_url: str) -> dict:
    return {**os.environ, **SHOP_ENV, "DATABASE_URL": database_url,
            "STRIPE_API_BASE": stripe_url, "FLASK_APP": "wsgi:app"}


def flask(env: dict, *args: str) -> None:
    subprocess.run([str(BIN / "flask"), *args], env=env, cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)


def wait_until_up(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"server at {url} did not come up")


@dataclass
class Served:
    base: str
    process: subprocess.Popen

    def worker_pids(self) -> list[int]:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in children.read_text().split()] if children.exists() else []


@dataclass(frozen=True)
class Serving:
    """How gunicorn serves the shop and the bare app alike (bench/run.py's defaults: the
    README's production command)."""

    workers: int
    worker_class: str
    threads: int

    def options(self) -> list[str]:
        threads = ["--threads", str(self.threads)] if self.worker_class == "gthread" else []
        return ["--workers", str(self.workers), "--worker-class", self.worker_class, *threads]

    def describe(self) -> str:
        if self.worker_class == "gthread":
            return f"{self.workers} gthread workers × {self.threads} threads"
        return f"{self.workers} {self.worker_class} workers"


@contextmanager
def gunicorn(env: dict, target: str, serving: Serving, health_path: str):
    """Serve `target` with gunicorn on a free loopback port."""
    port = free_port()
    command = [str(BIN / "gunicorn"), *serving.options(),
               "--bind", f"127.0.0.1:{port}", "--log-level", "warning", target]
    process = subprocess.Popen(command, env=env, cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base + health_path)
        served = Served(base, process)
        wait_until_booted(served, serving.workers)
        yield served
    finally:
        process.terminate()
        process.wait(timeout=15)


def wait_until_booted(served: Served, workers: int, timeout: float = 60) -> None:
    """Until every worker has loaded the app and gone quiet. The first one answering is not
    enough: the others, still importing the app, would eat the CPU of the first scenario."""
    deadline = time.monotonic() + timeout
    before = -1.0
    while time.monotonic() < deadline:
        pids = served.worker_pids()
        used = sum(cpu_seconds(pid) for pid in pids)
        if len(pids) == workers and used - before < 0.05:
            return
        before = used
        time.sleep(0.5)
    raise SystemExit(f"the workers at {served.base} did not settle")


@contextmanager
def profiled(served: Served, directory: Path | None, name: str, seconds: int):
    """py-spy samples (only while holding the GIL: CPU) the busiest worker of `served` into
    `directory`/`name`.txt as collapsed stacks, for about `seconds` less two. The worker is
    picked one second into the load: keep-alive connections stay with the worker that
    accepted them, and the first worker may have none (a profile of 19 samples, seventh
    session)."""
    if directory is None or not name:
        yield
        return
    directory.mkdir(parents=True, exist_ok=True)
    spies: list[subprocess.Popen] = []

    def record() -> None:
        before = {pid: cpu_seconds(pid) for pid in served.worker_pids()}
        time.sleep(1)
        busiest = max(before, key=lambda pid: cpu_seconds(pid) - before[pid])
        command = [str(BIN / "py-spy"), "record", "--gil", "--rate", "500", "--format", "raw",
                   "--duration", str(max(seconds - 2, 1)), "--output",
                   str(directory / f"{name}.txt"), "--pid", str(busiest)]
        spies.append(subprocess.Popen(command, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL))

    starter = threading.Thread(target=record, daemon=True)
    starter.start()
    try:
        yield
    finally:
        starter.join()
        for spy in spies:
            spy.wait(timeout=seconds + 30)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


class CpuMeter:
    """CPU used by groups of processes (app workers, database backends, localstripe) over a
    load run: other work on the machine does not count, unlike a rate."""

    def __init__(self, groups: dict[str, Callable[[], list[int]]]) -> None:
        self.groups = groups

    def snapshot(self) -> dict[str, dict[int, float]]:
        return {name: {pid: cpu_seconds(pid) for pid in pids()}
                for name, pids in self.groups.items()}

    def used(self, before: dict[str, dict[int, float]]) -> dict[str, float]:
        after = self.snapshot()
        return {name: sum(seconds - before[name].get(pid, 0.0)
                          for pid, seconds in after[name].items())
                for name in self.groups}


def database_backend_pids(database_url: str) -> list[int]:
    """The PostgreSQL server processes serving connections to the bench database."""
    name = make_url(database_url).database
    engine = create_engine(SERVER_URL)
    with engine.connect() as connection:
        pids = connection.execute(
            text("SELECT pid FROM pg_stat_activity WHERE datname = :name AND pid <> "
                 "pg_backend_pid()"), {"name": name}).scalars().all()
    engine.dispose()
    return list(pids)


@contextmanager
def localstripe(log_path: Path, latency_ms: float = 0):
    """localstripe on a free loopback port, started by the shop's own launcher; with
    `latency_ms`, each API request is answered that much later (a Stripe-like round trip)."""
    from shop.payments import devstripe

    with open(log_path, "w") as log:
        running = devstripe.start(stderr=log, latency_ms=latency_ms)
        try:
            yield running
        finally:
            running.stop()
