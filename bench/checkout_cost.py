"""What one checkout costs the app, in-process: CPU, statements, and (under callgrind)
instructions, the one figure that does not move with whatever else the machine is doing.

    .venv/bin/python bench/checkout_cost.py --checkouts 300
    .venv/bin/python bench/checkout_cost.py --checkouts 300 --webhooks   # the payment webhooks
    .venv/bin/python bench/checkout_cost.py --checkouts 300 --cart-adds  # adding to a cart
    .venv/bin/python bench/checkout_cost.py --checkouts 300 --page-misses  # cache-miss pages
    .venv/bin/python bench/checkout_cost.py --checkouts 300 --search-misses
    valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file=/tmp/checkout.cg \\
        .venv/bin/python bench/checkout_cost.py --checkouts 100 --callgrind

Runs against the database `make bench` left (shop_bench, or --database-url), with a
localstripe of its own: one-line guest carts made up front, then checkouts through Flask's
test client, one thread, as the bench's checkout scenario sends them (with --webhooks, what
is measured is the signed payment_intent.succeeded event for each of those orders, as the
bench's webhook scenario sends it, the checkouts done beforehand; with --cart-adds, one SKU
added to each of as many empty carts; with --page-misses and --search-misses, product pages
with filters never asked before, drawn as bench/lua/list_miss.lua draws them, from a fixed
seed). With --callgrind the
count is switched on for the measured checkouts only (callgrind_control), and the
instructions per checkout are "Collected" in valgrind's summary divided by --checkouts.
Garbage collection is off while measuring, so that a collection falling inside one run and
not the other does not decide an A/B comparison. For the same reason the misses read the
catalogue version once: read every 200 ms, it would land in the count as often as the run is
slow (valgrind runs it about fifty times slower).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import event  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bench import servers  # noqa: E402
from bench.prepare import Preparer  # noqa: E402
from shop.payments import devstripe  # noqa: E402

BENCH_DATABASE = make_url(servers.SERVER_URL).set(database="shop_bench").render_as_string(
    hide_password=False)
BODY = {"email": "bench@example.com", "shipping_method": "uk-standard",
        "shipping_address": {"name": "Bench Customer", "line1": "1 Harley Street",
                             "city": "London", "postcode": "W1G 9QD"}}


def _checkout_all(client, carts: list[str]) -> None:
    for cart in carts:
        response = client.post(f"/api/v1/carts/{cart}/checkout", json=BODY)
        if response.status_code != 201:
            raise SystemExit(f"checkout answered {response.status_code}: {response.get_json()}")


def _deliver_all(client, events: list[str]) -> None:
    for line in events:
        signature, body = line.split("\t", 1)
        response = client.post("/api/v1/stripe/webhook", data=body, headers={
            "Content-Type": "application/json", "Stripe-Signature": signature})
        if response.status_code != 200 or response.get_json().get("duplicate") is not False:
            raise SystemExit(f"webhook answered {response.status_code}: {response.get_json()}")


def _add_to_each(client, carts_and_skus: list[tuple[str, str]]) -> None:
    for cart, sku in carts_and_skus:
        response = client.post(f"/api/v1/carts/{cart}/items", json={"sku": sku, "quantity": 1})
        if response.status_code != 201:
            raise SystemExit(f"cart add answered {response.status_code}: {response.get_json()}")


SKIN_TYPES = ("oily", "combination", "dry", "normal", "sensitive")
CONCERNS = ("enlarged-pores", "dullness", "dehydration", "congestion", "fine-lines",
            "uneven-tone", "sensitivity", "oiliness", "dark-circles", "breakouts")
SORTS = ("name", "price", "-price", "newest")
WORDS = ("hyaluronic", "serum", "cleanser", "niacinamide", "calming", "vitamin", "mask",
         "barrier", "hydrating", "squalane", "retinal", "clarifying")


def _miss_paths(count: int, *, search: bool) -> list[str]:
    """As bench/lua/list_miss.lua makes them (its `q` form for search)."""
    draw = random.Random(20261203)
    paths = []
    for _ in range(count):
        path = (f"/api/v1/products?per_page=24&skin_type={draw.choice(SKIN_TYPES)}"
                f"&min_price={draw.randint(0, 3000)}")
        if search:
            path += f"&q={draw.choice(WORDS)}"
        else:
            path += f"&concern={draw.choice(CONCERNS)}&sort={draw.choice(SORTS)}"
        paths.append(path)
    return paths


def _get_all(client, paths: list[str]) -> None:
    for path in paths:
        response = client.get(path)
        if response.status_code != 200:
            raise SystemExit(f"{path} answered {response.status_code}: {response.get_json()}")


def _callgrind(on: bool) -> None:
    subprocess.run(["callgrind_control", "-i", "on" if on else "off", str(os.getpid())],
                   check=True, stdout=subprocess.DEVNULL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkouts", type=int, default=300)
    parser.add_argument("--warm-up", type=int,
                        help="requests before measuring (30; 300 for misses, which fill the "
                             "product cards)")
    parser.add_argument("--database-url", default=BENCH_DATABASE)
    parser.add_argument("--callgrind", action="store_true",
                        help="count instructions of the measured requests only")
    parser.add_argument("--cprofile", metavar="FILE",
                        help="write cProfile stats of the measured requests to FILE")
    parser.add_argument("--webhooks", action="store_true",
                        help="measure the payment_intent.succeeded webhooks of the checkouts")
    parser.add_argument("--cart-adds", action="store_true",
                        help="measure adding a SKU to an empty cart instead")
    parser.add_argument("--page-misses", action="store_true",
                        help="measure product pages with never-seen filters instead")
    parser.add_argument("--search-misses", action="store_true",
                        help="measure searches with never-seen filters instead")
    args = parser.parse_args()
    misses = args.page_misses or args.search_misses
    if args.warm_up is None:
        args.warm_up = 300 if misses else 30

    stripe = devstripe.start(stderr=subprocess.DEVNULL)
    try:
        os.environ.update(servers.shop_environment(args.database_url, stripe.url))
        if misses:
            os.environ["CATALOGUE_VERSION_CHECK_MS"] = str(10**9)
        with tempfile.TemporaryDirectory() as work:
            preparer = Preparer(args.database_url, Path(work))
            skus = preparer.stocked_skus(50)
            carts = [] if misses else preparer.carts(args.warm_up + args.checkouts, skus,
                                                     lines=0 if args.cart_adds else 1)
        from shop import create_app
        from shop.db import reader_engine
        from shop.extensions import db

        app = create_app()
        statements = [0]
        with app.app_context():
            for engine in {db.engine, reader_engine(db.engine) or db.engine}:
                event.listen(engine, "before_cursor_execute",
                             lambda *_: statements.__setitem__(0, statements[0] + 1))
        client = app.test_client()
        if args.webhooks:
            _checkout_all(client, carts)
            with tempfile.TemporaryDirectory() as work:
                events, _ = Preparer(args.database_url, Path(work)).succeeded_events_file(
                    "events.txt", servers.WEBHOOK_SECRET)
                events = events.read_text().splitlines()[-len(carts):]
            warm_up, measured, run = events[:args.warm_up], events[args.warm_up:], _deliver_all
        elif misses:
            paths = _miss_paths(args.warm_up + args.checkouts, search=args.search_misses)
            warm_up, measured, run = paths[:args.warm_up], paths[args.warm_up:], _get_all
        elif args.cart_adds:
            adds = [(cart, skus[n % len(skus)]) for n, cart in enumerate(carts)]
            warm_up, measured, run = adds[:args.warm_up], adds[args.warm_up:], _add_to_each
        else:
            warm_up, measured = carts[:args.warm_up], carts[args.warm_up:]
            run = _checkout_all
        run(client, warm_up)
        gc.collect()
        gc.disable()
        statements[0] = 0
        if args.callgrind:
            _callgrind(True)
        profile = cProfile.Profile() if args.cprofile else None
        cpu, wall = time.process_time(), time.perf_counter()
        if profile:
            profile.runcall(run, client, measured)
        else:
            run(client, measured)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        if profile:
            profile.dump_stats(args.cprofile)
        if args.callgrind:
            _callgrind(False)
        gc.enable()
    finally:
        stripe.stop()
    n = args.checkouts
    what = ("webhooks" if args.webhooks else "cart adds" if args.cart_adds
            else "page misses" if args.page_misses else "search misses" if args.search_misses
            else "checkouts")
    print(f"{n} {what}: {cpu * 1000 / n:.2f} ms of CPU and {wall * 1000 / n:.2f} ms each, "
          f"{statements[0] / n:.1f} statements each")


if __name__ == "__main__":
    main()
