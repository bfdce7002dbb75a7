"""Load benchmark: the shop under gunicorn vs a bare Flask app, both loaded with wrk.

    make bench                 # or: .venv/bin/python bench/run.py --products 2000

Seeds a throwaway PostgreSQL database with the seed catalogue plus N synthetic products,
serves the shop with gunicorn as the README says for production, serves bench/bare_app.py
with the same gunicorn settings, loads each scenario from a second process (wrk, fixed time
and connections) and writes a Markdown table to bench/results/.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SERVER_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fresh_database(name: str) -> str:
    admin = create_engine(SERVER_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(SERVER_URL).set(database=name).render_as_string(hide_password=False)


def flask(env: dict, *args: str) -> None:
    subprocess.run([str(BIN / "flask"), *args], env=env, cwd=ROOT, check=True)


def serve(env: dict, target: str, port: int, workers: int) -> subprocess.Popen:
    command = [str(BIN / "gunicorn"), "--workers", str(workers), "--bind", f"127.0.0.1:{port}",
               "--log-level", "warning", target]
    return subprocess.Popen(command, env=env, cwd=ROOT)


def wait_until_up(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"server at {url} did not come up")


LATENCY = re.compile(r"^\s+(50|99)(?:\.0+)?%\s+([\d.]+)(us|ms|s)\s*$", re.M)
UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def wrk(url: str, seconds: int, connections: int, threads: int) -> dict:
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", url],
        capture_output=True, text=True, check=True,
    ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    latency = {p: float(v) * UNITS[u] for p, v, u in LATENCY.findall(out)}
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return {"rps": rate, "p50": latency.get("50"), "p99": latency.get("99"),
            "errors": int(errors.group(1)) if errors else 0}


def scenarios(base: str) -> list[tuple[str, str]]:
    return [
        ("product list (24, filters, repeat)", f"{base}/api/v1/products?skin_type=oily&concern=enlarged-pores&sort=price&per_page=24"),
        ("product list (24, unfiltered)", f"{base}/api/v1/products?per_page=24&page=3"),
        ("product detail", f"{base}/api/v1/products/moist-hyaluronic-acid-serum"),
        ("search", f"{base}/api/v1/products?q=hyaluronic&per_page=24"),
        ("routine", f"{base}/api/v1/routine?skin_type=oily&concern=enlarged-pores"),
    ]


def table(rows: list[dict], bare: dict, args) -> str:
    lines = [
        f"# Benchmark {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"Machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}. wrk -t{args.threads} -c{args.connections} "
        f"-d{args.seconds}s on loopback; gunicorn {args.workers} sync workers; PostgreSQL; "
        f"{args.products} synthetic products plus the seed catalogue.",
        "",
        "| scenario | req/s | p50 ms | p99 ms | vs bare Flask | non-2xx |",
        "|---|---:|---:|---:|---:|---:|",
        f"| bare Flask JSON (ceiling) | {bare['rps']:.0f} | {bare['p50']:.2f} | {bare['p99']:.2f} | 100% | {bare['errors']} |",
    ]
    for row in rows:
        lines.append(
            f"| {row['name']} | {row['rps']:.0f} | {row['p50']:.2f} | {row['p99']:.2f} | "
            f"{100 * row['rps'] / bare['rps']:.1f}% | {row['errors']} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=2000)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed: apt-get install wrk")

    url = fresh_database("shop_bench")
    env = {**os.environ, "DATABASE_URL": url, "FLASK_APP": "wsgi:app", "LOG_LEVEL": "WARNING"}
    flask(env, "db", "upgrade")
    flask(env, "seed", "--scale", str(args.products))

    shop_port, bare_port = free_port(), free_port()
    servers = [serve(env, "wsgi:app", shop_port, args.workers),
               serve(env, "bench.bare_app:app", bare_port, args.workers)]
    try:
        shop, bare_base = f"http://127.0.0.1:{shop_port}", f"http://127.0.0.1:{bare_port}"
        wait_until_up(f"{shop}/health")
        wait_until_up(f"{bare_base}/bare")
        bare = wrk(f"{bare_base}/bare", args.seconds, args.connections, args.threads)
        rows = []
        for name, target in scenarios(shop):
            urllib.request.urlopen(target).read()  # warm up
            rows.append({"name": name, **wrk(target, args.seconds, args.connections, args.threads)})
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=10)
    report = table(rows, bare, args)
    out = ROOT / "bench" / "results" / f"{dt.datetime.now(dt.UTC):%Y%m%d-%H%M}.md"
    out.write_text(report)
    (ROOT / "bench" / "results" / "latest.md").write_text(report)
    print(report)


if __name__ == "__main__":
    main()
