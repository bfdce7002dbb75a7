"""The bench's Markdown: one table per run, the targets from issue 7 checked against it."""

from __future__ import annotations

import datetime as dt

from bench.load import Result


def row(key: str, name: str, result: Result, bare: Result, ceiling: Result | None = None,
        latency_ms: float | None = None) -> dict:
    return {"key": key, "name": name, "result": result,
            "vs_bare": result.rps / bare.rps if bare.rps else 0.0,
            "vs_ceiling": result.rps / ceiling.rps if ceiling and ceiling.rps else None,
            "ceiling": ceiling, "latency_ms": latency_ms}


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _cpu(res: Result) -> str:
    parts = [f"{name} {ms:.2f}" for name, ms in res.cpu_ms.items() if ms >= 0.005]
    return ", ".join(parts) or "-"


def _line(r: dict) -> str:
    res: Result = r["result"]
    vs_ceiling = "" if r["vs_ceiling"] is None else f"{100 * r['vs_ceiling']:.0f}%"
    return (f"| {r['name']} | {res.rps:,.0f} | {_ms(res.p50)} | {_ms(res.p99)} | "
            f"{100 * r['vs_bare']:.1f}% | {vs_ceiling} | {_cpu(res)} | {res.errors} | "
            f"{res.note} |")


TARGETS = (
    ("list-repeat", "catalogue page, repeat: ≥ 60% of bare Flask req/s",
     lambda r: r["vs_bare"] >= 0.60),
    ("list-repeat", "catalogue page, repeat: p99 < 15 ms",
     lambda r: r["result"].p99 is not None and r["result"].p99 < 15),
    ("list-miss", "catalogue page, cache miss: ≥ 10% of bare Flask req/s",
     lambda r: r["vs_bare"] >= 0.10),
    ("checkout", "checkout: ≥ 70% of the instant localstripe's bare PaymentIntent rate "
     "(no latency: app, database and localstripe share the CPU)",
     lambda r: r["vs_ceiling"] is not None and r["vs_ceiling"] >= 0.70),
    ("checkout-rtt", "checkout: ≥ 70% of the Stripe-like localstripe's bare PaymentIntent rate "
     "({latency} ms per request, as many concurrent clients as wrk's connections)",
     lambda r: r["vs_ceiling"] is not None and r["vs_ceiling"] >= 0.70),
    ("checkout", "checkout: ≥ 100 checkouts/s on PostgreSQL",
     lambda r: r["result"].rps >= 100),
)


def targets(rows: list[dict]) -> list[str]:
    """Each target checked against every row it applies to (one per Stripe latency)."""
    return [f"- {'met' if met(r) else '**NOT met**'}: "
            + text.format(latency=f"{r['latency_ms'] or 0:g}")
            for key, text, met in TARGETS for r in rows if r["key"] == key]


def table(rows: list[dict], machine: str, products: int, plans: str) -> str:
    lines = [
        f"# Benchmark {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"{machine} Catalogue: the seed plus {products:,} synthetic products.",
        "",
        "| scenario | req/s | p50 ms | p99 ms | vs bare Flask | vs localstripe | "
        "CPU ms per request | errors | note |",
        "|---|---:|---:|---:|---:|---:|---|---:|---|",
        *(_line(r) for r in rows),
        "",
        "Targets (issue 7):",
        "",
        *targets(rows),
        "",
        "Query plans (EXPLAIN ANALYZE on this catalogue, bench/plans.py):",
        "",
        plans,
    ]
    return "\n".join(lines)


def scaling_table(results: dict[int, list[dict]], machine: str, plans: dict[int, str]) -> str:
    lines = [
        f"# Scaling {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC",
        "",
        machine,
        "",
        "| products | scenario | req/s | p50 ms | p99 ms | vs bare Flask | CPU ms per request |",
        "|---:|---|---:|---:|---:|---:|---|",
    ]
    for size, rows in results.items():
        for r in rows:
            res: Result = r["result"]
            ratio = (f"{100 * r['vs_ceiling']:.0f}% of localstripe" if r["vs_ceiling"]
                     else f"{100 * r['vs_bare']:.1f}%")
            lines.append(f"| {size:,} | {r['name']} | {res.rps:,.0f} | {_ms(res.p50)} | "
                         f"{_ms(res.p99)} | {ratio} | {_cpu(res)} |")
    for size, plan in plans.items():
        lines += ["", f"Query plans at {size:,} products:", "", plan.rstrip()]
    return "\n".join(lines) + "\n"
