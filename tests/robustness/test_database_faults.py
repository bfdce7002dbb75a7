"""The database connection dropped under a running app (PostgreSQL's pg_terminate_backend on
the app's own connections, found by their application_name): the request in flight gets a
clean 503 problem, nothing is left half done, and the connection pool recovers by itself
(shop.db.discard_closed_connections) so the next requests succeed."""

from __future__ import annotations

import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from sqlalchemy import func, select, text

from shop.extensions import db
from shop.inventory.models import StockLevel
from shop.orders.models import Order, StockReservation
from tests.carts.factories import make_variant
from tests.fixtures.processes import process_env, start_instance

pytestmark = [pytest.mark.postgresql_only, pytest.mark.slow]
PROBLEM = "application/problem+json"
CHECKOUT = {"email": "fault@example.com", "shipping_method": "click-and-collect"}


@pytest.fixture(scope="module")
def shop_process(app, database_url, localstripe, tmp_path_factory):
    """One gunicorn instance (2 workers) whose connections we can find and kill."""
    name = f"shop-dbfault-{secrets.token_hex(4)}"
    env = process_env(database_url, application_name=name, key_prefix=name,
                      stripe_url=localstripe.url, webhook_secret="whsec_dbfault",
                      CATALOGUE_RESPONSE_CACHE_SECONDS="5")  # production's default: cache on
    instance = start_instance(env, name="dbfault", log_dir=tmp_path_factory.mktemp("gunicorn"))
    yield instance
    instance.stop()


def kill_connections(app, application_name: str, *, waiting_for_a_lock: bool = False) -> int:
    """Terminate the app's backends (only those blocked on a lock, if asked); how many."""
    condition = " AND wait_event_type = 'Lock'" if waiting_for_a_lock else ""
    with app.app_context(), db.engine.connect() as connection:
        killed = connection.execute(text(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "
            f"WHERE application_name = :name AND pid <> pg_backend_pid(){condition}"
        ), {"name": application_name}).scalar_one()
        connection.commit()
    return killed


def backends(app, application_name: str, where: str = "") -> int:
    with app.app_context(), db.engine.connect() as connection:
        return connection.execute(text(
            f"SELECT count(*) FROM pg_stat_activity WHERE application_name = :name{where}"
        ), {"name": application_name}).scalar_one()


def wait_for(condition, failure: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError(failure)


def wait_until_gone(app, application_name: str) -> None:
    """pg_terminate_backend only signals: wait until the backends have exited (and so sent
    their last words to the app's idle sockets)."""
    wait_for(lambda: backends(app, application_name) == 0,
             "the terminated backends did not exit")


def wait_until_blocked(app, application_name: str) -> None:
    wait_for(lambda: backends(app, application_name, " AND wait_event_type = 'Lock'") > 0,
             "the request never reached the locked row")


def committed_variant(app, stock: int = 3) -> tuple[int, str]:
    with app.app_context():
        variant = make_variant(db.session, stock=stock)
        db.session.commit()
        found = variant.id, variant.sku
        db.session.remove()
    return found


def new_cart(base: str, sku: str) -> str:
    cart_id = requests.post(f"{base}/api/v1/carts", timeout=10).json()["id"]
    added = requests.post(f"{base}/api/v1/carts/{cart_id}/items", json={"sku": sku},
                          timeout=10)
    assert added.status_code == 201, added.text
    return cart_id


def assert_database_unavailable(response: requests.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["Content-Type"] == PROBLEM
    assert response.json()["code"] == "database_unavailable"
    assert int(response.headers["Retry-After"]) > 0


def test_a_checkout_whose_connection_is_killed_mid_request_is_a_503_and_holds_nothing(
    app, committed, shop_process, localstripe,
):
    localstripe.reset()
    localstripe.webhooks_off()
    variant_id, sku = committed_variant(app)
    cart_id = new_cart(shop_process.url, sku)
    with app.app_context():
        # Hold the stock row so the checkout stops inside its transaction, mid-request.
        blocker = db.engine.connect()
        blocker_tx = blocker.begin()
        blocker.execute(select(StockLevel).where(StockLevel.variant_id == variant_id)
                        .with_for_update())
    try:
        with ThreadPoolExecutor(max_workers=1) as pool:
            started = time.monotonic()
            pending = pool.submit(requests.post, f"{shop_process.url}/api/v1/carts/"
                                  f"{cart_id}/checkout", json=CHECKOUT, timeout=20)
            wait_until_blocked(app, shop_process.application_name)
            assert kill_connections(app, shop_process.application_name,
                                    waiting_for_a_lock=True) == 1
            response = pending.result()
        assert time.monotonic() - started < 10  # answered at once, not after a timeout
    finally:
        blocker_tx.rollback()
        blocker.close()
    assert_database_unavailable(response)

    def state(session):
        level = session.get(StockLevel, variant_id)
        orders = session.scalar(select(func.count()).select_from(Order))
        held = session.scalar(select(func.count()).select_from(StockReservation))
        return level.on_hand, level.reserved, orders, held

    with app.app_context():
        assert state(db.session) == (3, 0, 0, 0)  # the killed transaction left nothing
        db.session.remove()
    # The same worker and the same cart carry on: the retry places the order.
    retried = requests.post(f"{shop_process.url}/api/v1/carts/{cart_id}/checkout",
                            json=CHECKOUT, timeout=20)
    assert retried.status_code == 201, retried.text
    with app.app_context():
        assert state(db.session) == (3, 1, 1, 1)
        db.session.remove()


def test_the_pool_recovers_after_every_app_connection_is_killed(app, committed, shop_process):
    _variant_id, sku = committed_variant(app)
    base = shop_process.url
    product = requests.get(f"{base}/api/v1/products", timeout=10).json()["items"][0]["slug"]
    urls = [f"{base}/api/v1/products", f"{base}/api/v1/products/{product}",
            f"{base}/api/v1/categories", f"{base}/api/v1/shipping-methods"]
    # Warm both workers' pools, then kill every connection they hold.
    with ThreadPoolExecutor(max_workers=4) as pool:
        assert {r.status_code for r in pool.map(lambda u: requests.get(u, timeout=10),
                                                urls * 4)} == {200}
    assert kill_connections(app, shop_process.application_name) >= 1
    wait_until_gone(app, shop_process.application_name)  # closed while idle in the pool
    # discard_closed_connections finds the dead connections before use: nobody sees the outage.
    with ThreadPoolExecutor(max_workers=4) as pool:
        after = list(pool.map(lambda u: requests.get(u, timeout=10), urls * 4))
    assert [r.status_code for r in after] == [200] * len(after), [r.text for r in after]
    assert requests.get(f"{base}/ready", timeout=10).json() == {"status": "ready"}
    new_cart(base, sku)  # writes work too


def test_connections_killed_repeatedly_under_load_give_only_clean_answers(
    app, committed, shop_process,
):
    """For a couple of seconds a killer terminates every app connection every 50 ms while
    eight clients browse and fill carts. Every answer is a success or a 503 problem (no
    HTML, no hang, no 500), and once the killing stops everything succeeds again."""
    _variant_id, sku = committed_variant(app, stock=50)
    base = shop_process.url
    stop = threading.Event()
    killed = []

    def killer():
        while not stop.is_set():
            killed.append(kill_connections(app, shop_process.application_name))
            time.sleep(0.05)

    def client(_n: int) -> list[requests.Response]:
        answers = []
        with requests.Session() as http:
            while not stop.is_set():
                cart = http.post(f"{base}/api/v1/carts", timeout=20)
                answers.append(cart)
                answers.append(http.get(f"{base}/api/v1/products", timeout=20))
                if cart.status_code == 201:
                    answers.append(http.post(f"{base}/api/v1/carts/{cart.json()['id']}/items",
                                             json={"sku": sku}, timeout=20))
        return answers

    with ThreadPoolExecutor(max_workers=9) as pool:
        clients = [pool.submit(client, n) for n in range(8)]
        kill_loop = pool.submit(killer)
        time.sleep(2.5)
        stop.set()
        kill_loop.result()
        answers = [answer for future in clients for answer in future.result()]

    assert sum(killed) > 0
    unavailable = [a for a in answers if a.status_code == 503]
    succeeded = [a for a in answers if a.status_code in (200, 201)]
    assert len(unavailable) + len(succeeded) == len(answers), sorted(
        {(a.status_code, a.text[:200]) for a in answers if a.status_code not in (200, 201, 503)})
    for answer in unavailable:
        assert_database_unavailable(answer)
    assert succeeded  # the app kept serving between the kills
    # Afterwards, every request succeeds at once.
    with ThreadPoolExecutor(max_workers=4) as pool:
        after = list(pool.map(lambda _: requests.get(f"{base}/api/v1/products", timeout=10),
                              range(12)))
    assert [r.status_code for r in after] == [200] * 12
    assert shop_process.alive()
