"""Load benchmark: the shop under gunicorn against a bare Flask app, both loaded with wrk.

    make bench                              # .venv/bin/python bench/run.py
    make bench BENCH_ARGS="--scaling"       # list/search/checkout at 1k, 10k, 50k products

Seeds a throwaway PostgreSQL database (shop_bench) with the seed catalogue plus N synthetic
products, starts localstripe with the shop's own launcher, serves the shop with gunicorn as the
README says for production (gthread workers), serves bench/bare_app.py with the same command,
loads each scenario from a second process (wrk, fixed time and connections) and writes a
Markdown table to bench/results/<timestamp>.md and bench/results/latest.md. The *-rtt pair runs
against a second localstripe that answers each request --stripe-latency-ms late, as Stripe's
API does, and a shop pointed at it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shutil
import sys
import tempfile
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import load, report, servers  # noqa: E402
from bench.load import Result  # noqa: E402
from shop.payments import devstripe  # noqa: E402

RESULTS = servers.ROOT / "bench" / "results"
LIST_REPEAT = "/api/v1/products?skin_type=oily&concern=enlarged-pores&sort=price&per_page=24"
DETAIL = "/api/v1/products/moist-hyaluronic-acid-serum"
SEARCH_REPEAT = "/api/v1/products?q=hyaluronic&per_page=24"
CHECKOUT_SKUS = 200
WARM_UP_SECONDS = 2
RTT_KEYS = ("stripe-ceiling-rtt", "checkout-rtt")


def say(message: str) -> None:
    print(f"[bench {dt.datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


class Bench:
    """One catalogue size: a database, localstripe, the shop and the bare app, and wrk."""

    def __init__(self, args, products: int, work: Path) -> None:
        self.args, self.products, self.work = args, products, work
        self.serving = serving(args)
        self.rows: list[dict] = []

    def load(self, served: servers.Served, path: str = "", profile_as: str = "",
             stripe: devstripe.LocalStripe | None = None, **kwargs) -> Result:
        """wrk against one server, with the CPU its processes used per request; with
        --profile, py-spy samples one of its workers meanwhile."""
        stripe = stripe or self.stripe
        meter = servers.CpuMeter({
            "app": served.worker_pids,
            "db": lambda: servers.database_backend_pids(self.url),
            "stripe": lambda: [stripe.process.pid],
        })
        before = meter.snapshot()
        with servers.profiled(served, self.args.profile, profile_as, self.args.seconds):
            result = load.wrk(served.base + path, seconds=self.args.seconds,
                              connections=self.args.connections, threads=self.args.threads,
                              **kwargs)
        used = meter.used(before)
        result.cpu_ms = {name: 1000 * seconds / max(result.requests, 1)
                         for name, seconds in used.items()}
        return result

    def add(self, key: str, name: str, result: Result, **kwargs) -> None:
        self.rows.append(report.row(key, name, result, self.bare, **kwargs))

    def setup_database(self) -> str:
        say(f"database shop_bench: migrate, seed --scale {self.products}")
        url = servers.fresh_database("shop_bench")
        env = {**os.environ, "DATABASE_URL": url, "FLASK_APP": "wsgi:app", "LOG_LEVEL": "WARNING"}
        servers.flask(env, "db", "upgrade")
        servers.flask(env, "seed", "--scale", str(self.products))
        servers.vacuum_analyze(url)
        return url

    def warm(self, url: str, times: int = 8) -> None:
        for _ in range(times):  # every worker has loaded the app, its pool and its cache
            urllib.request.urlopen(url).read()

    def read_scenarios(self, only: set[str] | None) -> None:
        scenarios = [
            ("list-repeat", "product list: 24, filtered, repeat request (cache hit)",
             LIST_REPEAT, {}),
            ("list-miss", "product list: 24, never-seen filters (cache miss)",
             "/", {"script": "list_miss.lua"}),
            ("detail", "product detail (repeat)", DETAIL, {}),
            ("search-repeat", "search: q=hyaluronic, repeat (cache hit)", SEARCH_REPEAT, {}),
            ("search-miss", "search: varied q and filters (cache miss)",
             "/", {"script": "list_miss.lua", "script_args": ("q",)}),
        ]
        for key, name, path, options in scenarios:
            if only and key not in only:
                continue
            self.warm(self.shop.base + (path if path != "/" else LIST_REPEAT))
            # Unmeasured first: every worker thread builds and compiles the statements of
            # each filter shape once (a profile of a cold 10 s run spent a fifth of it there).
            load.wrk(self.shop.base + path, seconds=WARM_UP_SECONDS,
                     connections=self.args.connections, threads=self.args.threads, **options)
            say(name)
            self.add(key, name, self.load(self.shop, path, profile_as=key, **options))

    def cart_add(self, prep, skus: list[str]) -> None:
        carts = prep.carts_file("cart-add-carts.txt", 1000, skus, lines=0)
        sku_file = prep.skus_file("cart-add-skus.txt", skus[:20])
        say("cart add")
        result = self.load(self.shop, "/", profile_as="cart-add", script="cart_add.lua",
                           script_args=(str(carts), str(sku_file)))
        self.add("cart-add", "cart add (POST item, 1,000 guest carts)", result)

    def intent_rate(self, stripe: devstripe.LocalStripe, processes: int = 2,
                    threads: int = 4) -> Result:
        meter = servers.CpuMeter({"stripe": lambda: [stripe.process.pid]})
        before = meter.snapshot()
        ceiling = load.stripe_intent_rate(stripe.url, servers.STRIPE_SECRET_KEY,
                                          seconds=self.args.seconds, processes=processes,
                                          threads=threads)
        ceiling.cpu_ms = {"stripe": 1000 * meter.used(before)["stripe"] / ceiling.requests}
        return ceiling

    def checkout_carts(self, prep, skus: list[str], name: str) -> Path:
        supply = max(2000, 400 * self.args.seconds)
        say(f"{name}: preparing {supply} one-line carts")
        return prep.carts_file(f"{name}-carts.txt", supply, skus, lines=1)

    def checkout(self, prep, skus: list[str]) -> None:
        say("localstripe: bare PaymentIntent rate (stripe SDK)")
        ceiling = self.intent_rate(self.stripe)
        self.add("stripe-ceiling", "localstripe: bare PaymentIntent create (stripe SDK; "
                 "checkout ceiling)", ceiling)
        carts = self.checkout_carts(prep, skus, "checkout")
        say("checkout")
        result = self.load(self.shop, "/", profile_as="checkout", script="checkout.lua",
                           script_args=(str(carts),))
        self.add("checkout", "checkout: order + stock reservation + PaymentIntent "
                 "(localstripe)", result, ceiling=ceiling)

    def checkout_rtt(self, prep, skus: list[str], only: set[str] | None,
                     latency: float) -> None:
        """The same pair against a localstripe that answers like Stripe, `latency` late: the
        ceiling with as many concurrent SDK clients as wrk has connections, then the shop."""
        label = f"localstripe +{latency:g} ms"
        with servers.localstripe(self.work / "localstripe-rtt.log", latency) as slow, \
                servers.gunicorn(servers.shop_environment(self.url, slow.url), "wsgi:app",
                                 self.serving, "/health") as shop:
            say(f"{label}: bare PaymentIntent rate, {self.args.connections} clients")
            processes = self.args.threads  # the clients spread over processes as wrk's are
            ceiling = self.intent_rate(slow, processes, self.args.connections // processes)
            self.add("stripe-ceiling-rtt", f"{label}: bare PaymentIntent create (stripe SDK, "
                     f"{self.args.connections} clients; checkout-rtt ceiling)", ceiling,
                     latency_ms=latency)
            if only and "checkout-rtt" not in only:
                return
            carts = self.checkout_carts(prep, skus, "checkout-rtt")
            # A server started just now: its first checkouts compile statements and fill
            # caches, which the other scenarios' server did during the earlier scenarios.
            warm = prep.carts_file("checkout-rtt-warm-carts.txt", 400, skus, lines=1)
            load.wrk(shop.base + "/", seconds=3, connections=self.args.connections,
                     threads=self.args.threads, script="checkout.lua", script_args=(str(warm),))
            say(f"checkout against {label}")
            result = self.load(shop, "/", profile_as="checkout-rtt", stripe=slow,
                               script="checkout.lua", script_args=(str(carts),))
            self.add("checkout-rtt", "checkout: order + stock reservation + PaymentIntent "
                     f"({label})", result, ceiling=ceiling, latency_ms=latency)

    def webhook(self, prep) -> None:
        events, count = prep.succeeded_events_file("webhook-events.txt", servers.WEBHOOK_SECRET)
        say(f"webhook: {count} signed payment_intent.succeeded events")
        result = self.load(self.shop, "/", profile_as="webhook", script="webhook.lua",
                           script_args=(str(events),))
        self.add("webhook", "webhook: payment_intent.succeeded → order paid", result)

    def run(self, only: set[str] | None = None) -> list[dict]:
        from bench import plans
        from bench.prepare import Preparer

        self.url = self.setup_database()
        prep = Preparer(self.url, self.work)
        say("EXPLAIN the catalogue queries")
        self.plans = plans.report(prep.app, self.products)
        want = lambda key: not only or key in only  # noqa: E731
        with servers.localstripe(self.work / "localstripe.log") as self.stripe:
            env = servers.shop_environment(self.url, self.stripe.url)
            with servers.gunicorn(env, "wsgi:app", self.serving, "/health") as self.shop, \
                    servers.gunicorn(env, "bench.bare_app:app", self.serving,
                                     "/bare") as bare:
                self.warm(bare.base + "/bare")
                say("bare Flask JSON")
                self.bare = self.load(bare, "/bare")
                self.add("bare", "bare Flask JSON (ceiling)", self.bare)
                self.read_scenarios(only)
                rtt = any(want(key) for key in RTT_KEYS)
                if want("cart-add") or want("checkout") or want("webhook") or rtt:
                    skus = prep.stocked_skus(CHECKOUT_SKUS)
                if want("cart-add"):
                    self.cart_add(prep, skus)
                if want("checkout") or want("webhook"):
                    self.checkout(prep, skus)
                if want("webhook"):
                    self.webhook(prep)
            # Once the servers above are gone: their pools would hold database connections
            # the second shop may need (PostgreSQL's max_connections).
            for latency in self.args.stripe_latency_ms if rtt else ():
                self.checkout_rtt(prep, skus, only, latency)
        if want("checkout") or want("checkout-rtt"):
            say(f"orders by status: {prep.counts()}")
        return self.rows


def serving(args) -> servers.Serving:
    return servers.Serving(args.workers, args.worker_class, args.worker_threads)


def machine(args) -> str:
    load_avg = os.getloadavg()
    return (f"{platform.node()} {platform.machine()}, {os.cpu_count()} cores, "
            f"Python {platform.python_version()}, PostgreSQL on the same machine; wrk "
            f"-t{args.threads} -c{args.connections} -d{args.seconds}s on loopback; gunicorn "
            f"{serving(args).describe()} for the shop and for the bare app. Load average at "
            f"the end: {load_avg[0]:.2f} {load_avg[1]:.2f} {load_avg[2]:.2f}.")


def write(text: str, name: str, partial: bool) -> None:
    """Keep every run; a full run (not --only) is also the latest."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    suffix = f"{name}-partial" if partial else name
    (RESULTS / f"{dt.datetime.now(dt.UTC):%Y%m%d-%H%M}{suffix}.md").write_text(text)
    if not partial:
        (RESULTS / f"latest{name}.md").write_text(text)
    print(text)


def _latencies(text: str) -> list[float]:
    return [float(value) for value in text.split(",")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=2000)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    # The README's production command on this machine's cores: 2 × cores gthread workers.
    parser.add_argument("--workers", type=int, default=2 * (os.cpu_count() or 1))
    parser.add_argument("--worker-class", choices=("gthread", "sync"), default="gthread")
    parser.add_argument("--worker-threads", type=int, default=8,
                        help="gunicorn --threads per gthread worker")
    parser.add_argument("--stripe-latency-ms", type=_latencies, default=[40.0, 100.0, 250.0],
                        metavar="MS,MS", help="how late the *-rtt scenarios' localstripe "
                        "answers each request; the pair runs once per value (40,100,250)")
    parser.add_argument("--only", help="comma-separated scenario keys (bare always runs): "
                        "list-repeat,list-miss,detail,search-repeat,search-miss,cart-add,"
                        "checkout,webhook,stripe-ceiling-rtt,checkout-rtt")
    parser.add_argument("--scaling", action="store_true",
                        help="list, search and checkout at each --scales catalogue size")
    parser.add_argument("--scales", default="1000,10000,50000")
    parser.add_argument("--profile", type=Path, metavar="DIR",
                        help="py-spy (--gil) one shop worker during each scenario: "
                        "DIR/<scenario>.txt, collapsed stacks")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed: apt-get install wrk")
    only = set(args.only.split(",")) if args.only else None
    with tempfile.TemporaryDirectory(prefix="shop-bench-") as work:
        if args.scaling:
            sizes = [int(size) for size in args.scales.split(",")]
            keys = only or {"list-repeat", "list-miss", "search-miss", "checkout"}
            results, plan_reports = {}, {}
            for size in sizes:
                bench = Bench(args, size, Path(work))
                results[size] = bench.run(keys)
                plan_reports[size] = bench.plans
            write(report.scaling_table(results, machine(args), plan_reports), "-scaling",
                  partial=bool(only))
        else:
            bench = Bench(args, args.products, Path(work))
            rows = bench.run(only)
            write(report.table(rows, machine(args), args.products, bench.plans), "",
                  partial=bool(only))


if __name__ == "__main__":
    main()
