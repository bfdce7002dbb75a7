"""Load benchmark: the shop under gunicorn against a bare Flask app, both loaded with wrk.

    make bench                              # .venv/bin/python bench/run.py
    make bench BENCH_ARGS="--scaling"       # list/search/checkout at 1k, 10k, 50k products

Seeds a throwaway PostgreSQL database (shop_bench) with the seed catalogue plus N synthetic
products, starts localstripe with the shop's own launcher, serves the shop with gunicorn sync
workers as the README says for production, serves bench/bare_app.py with the same settings,
loads each scenario from a second process (wrk, fixed time and connections) and writes a
Markdown table to bench/results/<timestamp>.md and bench/results/latest.md.
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

RESULTS = servers.ROOT / "bench" / "results"
LIST_REPEAT = "/api/v1/products?skin_type=oily&concern=enlarged-pores&sort=price&per_page=24"
DETAIL = "/api/v1/products/moist-hyaluronic-acid-serum"
SEARCH_REPEAT = "/api/v1/products?q=hyaluronic&per_page=24"
CHECKOUT_SKUS = 200


def say(message: str) -> None:
    print(f"[bench {dt.datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


class Bench:
    """One catalogue size: a database, localstripe, the shop and the bare app, and wrk."""

    def __init__(self, args, products: int, work: Path) -> None:
        self.args, self.products, self.work = args, products, work

    def wrk(self, base: str, path: str = "", **kwargs) -> Result:
        return load.wrk(base + path, seconds=self.args.seconds,
                        connections=self.args.connections, threads=self.args.threads, **kwargs)

    def setup_database(self) -> str:
        say(f"database shop_bench: migrate, seed --scale {self.products}")
        url = servers.fresh_database("shop_bench")
        env = {**os.environ, "DATABASE_URL": url, "FLASK_APP": "wsgi:app", "LOG_LEVEL": "WARNING"}
        servers.flask(env, "db", "upgrade")
        servers.flask(env, "seed", "--scale", str(self.products))
        servers.vacuum_analyze(url)
        return url

    def warm(self, url: str, times: int = 4) -> None:
        for _ in range(times):  # every worker has loaded the app and filled its cache
            urllib.request.urlopen(url).read()

    def read_scenarios(self, shop: str, bare: Result, only: set[str] | None) -> list[dict]:
        scenarios = [
            ("list-repeat", "product list: 24, filtered, repeat request (cache hit)",
             lambda: self.wrk(shop, LIST_REPEAT), shop + LIST_REPEAT),
            ("list-miss", "product list: 24, never-seen filters (cache miss)",
             lambda: self.wrk(shop, "/", script="list_miss.lua"), None),
            ("detail", "product detail (repeat)", lambda: self.wrk(shop, DETAIL), shop + DETAIL),
            ("search-repeat", "search: q=hyaluronic, repeat (cache hit)",
             lambda: self.wrk(shop, SEARCH_REPEAT), shop + SEARCH_REPEAT),
            ("search-miss", "search: varied q and filters (cache miss)",
             lambda: self.wrk(shop, "/", script="list_miss.lua", script_args=("q",)), None),
        ]
        rows = []
        for key, name, run, warm_url in scenarios:
            if only and key not in only:
                continue
            if warm_url:
                self.warm(warm_url)
            say(f"{name}")
            rows.append(report.row(key, name, run(), bare))
        return rows

    def cart_add(self, shop: str, bare: Result, prep, skus: list[str]) -> dict:
        carts = prep.carts_file("cart-add-carts.txt", 1000, skus, lines=0)
        sku_file = prep.skus_file("cart-add-skus.txt", skus[:20])
        say("cart add")
        result = self.wrk(shop, "/", script="cart_add.lua",
                          script_args=(str(carts), str(sku_file)))
        return report.row("cart-add", "cart add (POST item, 1,000 guest carts)", result, bare)

    def checkout(self, shop: str, bare: Result, prep, skus: list[str], stripe_url: str,
                 rows: list[dict]) -> Result:
        say("localstripe: bare PaymentIntent rate (stripe SDK)")
        ceiling = load.stripe_intent_rate(stripe_url, servers.STRIPE_SECRET_KEY,
                                          seconds=self.args.seconds)
        rows.append(report.row("stripe-ceiling", "localstripe: bare PaymentIntent create "
                               "(stripe SDK; checkout ceiling)", ceiling, bare))
        supply = max(2000, 400 * self.args.seconds)
        say(f"checkout: preparing {supply} one-line carts")
        carts = prep.carts_file("checkout-carts.txt", supply, skus, lines=1)
        say("checkout")
        result = self.wrk(shop, "/", script="checkout.lua", script_args=(str(carts),))
        rows.append(report.row("checkout", "checkout: order + stock reservation + "
                               "PaymentIntent (localstripe)", result, bare, ceiling=ceiling))
        return ceiling

    def webhook(self, shop: str, bare: Result, prep) -> dict:
        events, count = prep.succeeded_events_file("webhook-events.txt", servers.WEBHOOK_SECRET)
        say(f"webhook: {count} signed payment_intent.succeeded events")
        result = self.wrk(shop, "/", script="webhook.lua", script_args=(str(events),))
        return report.row("webhook", "webhook: payment_intent.succeeded → order paid",
                          result, bare)

    def run(self, only: set[str] | None = None) -> list[dict]:
        from bench.prepare import Preparer

        url = self.setup_database()
        stripe_log = self.work / "localstripe.log"
        with servers.localstripe(stripe_log) as stripe:
            env = servers.shop_environment(url, stripe.url)
            with servers.gunicorn(env, "wsgi:app", self.args.workers, "/health") as shop, \
                    servers.gunicorn(env, "bench.bare_app:app", self.args.workers,
                                     "/bare") as bare_base:
                self.warm(bare_base + "/bare")
                say("bare Flask JSON")
                bare = self.wrk(bare_base, "/bare")
                rows = [report.row("bare", "bare Flask JSON (ceiling)", bare, bare)]
                rows += self.read_scenarios(shop, bare, only)
                prep = Preparer(url, self.work)
                want = lambda key: not only or key in only  # noqa: E731
                if want("cart-add") or want("checkout") or want("webhook"):
                    skus = prep.stocked_skus(CHECKOUT_SKUS)
                if want("cart-add"):
                    rows.append(self.cart_add(shop, bare, prep, skus))
                if want("checkout") or want("webhook"):
                    self.checkout(shop, bare, prep, skus, stripe.url, rows)
                if want("webhook"):
                    rows.append(self.webhook(shop, bare, prep))
                say(f"orders by status: {prep.counts() if want('checkout') else '-'}")
        return rows


def machine(args) -> str:
    load_avg = os.getloadavg()
    return (f"{platform.node()} {platform.machine()}, {os.cpu_count()} cores, "
            f"Python {platform.python_version()}, PostgreSQL on the same machine; wrk "
            f"-t{args.threads} -c{args.connections} -d{args.seconds}s on loopback; gunicorn "
            f"{args.workers} sync workers for the shop and for the bare app. Load average at "
            f"the end: {load_avg[0]:.2f} {load_avg[1]:.2f} {load_avg[2]:.2f}.")


def write(text: str, name: str) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{dt.datetime.now(dt.UTC):%Y%m%d-%H%M}{name}.md").write_text(text)
    (RESULTS / f"latest{name}.md").write_text(text)
    print(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=2000)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--only", help="comma-separated scenario keys (bare always runs): "
                        "list-repeat,list-miss,detail,search-repeat,search-miss,cart-add,"
                        "checkout,webhook")
    parser.add_argument("--scaling", action="store_true",
                        help="list, search and checkout at each --scales catalogue size")
    parser.add_argument("--scales", default="1000,10000,50000")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed: apt-get install wrk")
    only = set(args.only.split(",")) if args.only else None
    with tempfile.TemporaryDirectory(prefix="shop-bench-") as work:
        if args.scaling:
            sizes = [int(size) for size in args.scales.split(",")]
            keys = only or {"list-repeat", "list-miss", "search-miss", "checkout"}
            results = {size: Bench(args, size, Path(work)).run(keys) for size in sizes}
            write(report.scaling_table(results, machine(args)), "-scaling")
        else:
            rows = Bench(args, args.products, Path(work)).run(only)
            write(report.table(rows, machine(args), args.products), "")


if __name__ == "__main__":
    main()
