"""Load generation: wrk (Debian's package) for HTTP scenarios, and the stripe SDK in worker
processes for localstripe's own PaymentIntent rate (the checkout ceiling)."""

from __future__ import annotations

import multiprocessing
import os
import re
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

LUA_DIR = Path(__file__).resolve().parent / "lua"
LATENCY = re.compile(r"^\s+(50|99)(?:\.0+)?%\s+([\d.]+)(us|ms|s)\s*$", re.M)
UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}
SUPPLY = re.compile(r"^BENCH_SUPPLY (.*)$", re.M)


@dataclass
class Result:
    rps: float
    p50: float | None
    p99: float | None
    errors: int
    requests: int
    note: str = ""
    cpu_ms: dict[str, float] = field(default_factory=dict)  # CPU per request, by process group


def wrk(url: str, *, seconds: int, connections: int, threads: int,
        script: str | None = None, script_args: tuple[str, ...] = ()) -> Result:
    """Run wrk against `url`; with a Lua script from bench/lua and its arguments."""
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency",
               "--timeout", "10s"]
    if script:
        command += ["-s", str(LUA_DIR / script)]
    command.append(url)
    if script:
        command += ["--", str(threads), *script_args]
    run = subprocess.run(command, capture_output=True, text=True, check=False,
                         env={**os.environ, "BENCH_LUA_DIR": str(LUA_DIR)})
    if run.returncode != 0:
        raise RuntimeError(f"wrk failed: {run.stderr or run.stdout}")
    return parse_wrk(run.stdout)


def parse_wrk(out: str) -> Result:
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    latency = {p: float(v) * UNITS[u] for p, v, u in LATENCY.findall(out)}
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = int(non_2xx.group(1)) if non_2xx else 0
    errors += sum(int(n) for n in socket_errors.groups()) if socket_errors else 0
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    result = Result(rate, latency.get("50"), latency.get("99"), errors, requests)
    supply = SUPPLY.search(out)
    if supply:  # a script that consumes prepared items (carts, events) reports on them
        fields = dict(item.split("=") for item in supply.group(1).split())
        lost = int(fields["lost"])  # sent, never answered (wrk dropped it, or it timed out)
        result.requests, result.errors = int(fields["ok"]), int(fields["failed"]) + lost
        if int(fields["exhausted"]):
            # wrk divides by the whole -d duration even after threads stopped: use the
            # script's own clock, from the first request to the last expected answer
            result.rps = int(fields["ok"]) / float(fields["elapsed"])
            result.note = f"{fields['ok']} items, all used in {float(fields['elapsed']):.1f} s"
            if lost:
                result.note += f"; {lost} sent but never answered"
    return result


def _create_intents(args: tuple[str, str, float, float, int, int]) -> list[float]:
    """One load process: `threads` threads creating PaymentIntents from `start` to `deadline`."""
    import threading

    from shop.payments.client import build_client

    url, key, start, deadline, threads, offset = args
    time.sleep(max(0.0, start - time.time()))
    latencies: list[float] = []
    lock = threading.Lock()

    def loop(thread: int) -> None:
        # built and called as the shop's checkout does (shop.payments: transport and call)
        client = build_client({"STRIPE_SECRET_KEY": key, "STRIPE_API_BASE": url,
                               "STRIPE_MAX_RETRIES": 0, "STRIPE_TIMEOUT_SECONDS": 30})
        n = 0
        while time.time() < deadline:
            n += 1
            started = time.perf_counter()
            client.raw_request(
                "post", "/v1/payment_intents", amount=4200, currency="gbp",
                payment_method_types=["card"],
                metadata={"order_id": str(n), "order_number": f"BENCH-{n}"},
                idempotency_key=f"bench-{offset}-{thread}-{n}",
            )
            elapsed = (time.perf_counter() - started) * 1000
            with lock:
                latencies.append(elapsed)

    workers = [threading.Thread(target=loop, args=(t,)) for t in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return latencies


def stripe_intent_rate(url: str, key: str, *, seconds: int, processes: int = 2,
                       threads: int = 4) -> Result:
    """How fast this localstripe creates bare PaymentIntents through the stripe SDK, loaded
    from `processes` × `threads` concurrent clients (the most it gave on this machine)."""
    start = time.time() + 3.0  # every process has imported stripe by then
    deadline = start + seconds
    context = multiprocessing.get_context("spawn")
    with context.Pool(processes) as pool:
        chunks = pool.map(_create_intents,
                          [(url, key, start, deadline, threads, p) for p in range(processes)])
    latencies = sorted(latency for chunk in chunks for latency in chunk)
    if not latencies:
        raise RuntimeError("no PaymentIntent was created")
    elapsed = deadline - start

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))]

    return Result(len(latencies) / elapsed, pct(0.50), pct(0.99), 0, len(latencies),
                  f"{processes}×{threads} stripe SDK clients")
