"""Scale-out: two gunicorn instances (2 workers each) on one PostgreSQL and one Redis.
The last units still sell once, a voucher is still never overspent, and rate limits are
counted once for the whole fleet."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from sqlalchemy import func, select

from shop.extensions import db
from shop.inventory.models import StockLevel, StockMovement
from shop.orders.models import Order, StockReservation
from shop.vouchers.models import Voucher, VoucherTransaction
from tests.carts.factories import make_variant
from tests.fixtures.auth import bearer_for, make_user
from tests.vouchers.conftest import issue_money, issue_treatment

pytestmark = [pytest.mark.postgresql_only, pytest.mark.slow]
BUYERS = 24
STOCK = 5
VOUCHER_ROUNDS = 3
PROBLEM = "application/problem+json"


def committed_rows(app, build):
    """Run build(session) in the test process, commit, return what it returned."""
    with app.app_context():
        try:
            result = build(db.session)
            db.session.commit()
            return result
        finally:
            db.session.remove()


def read(app, query):
    with app.app_context():
        try:
            return query(db.session)
        finally:
            db.session.remove()


def new_cart_with(base: str, sku: str, quantity: int = 1) -> str:
    cart = requests.post(f"{base}/api/v1/carts", timeout=10)
    assert cart.status_code == 201, cart.text
    cart_id = cart.json()["id"]
    added = requests.post(f"{base}/api/v1/carts/{cart_id}/items", timeout=10,
                          json={"sku": sku, "quantity": quantity})
    assert added.status_code == 201, added.text
    return cart_id


def test_last_units_sell_once_across_two_app_processes(app, committed, app_processes,
                                                       localstripe):
    localstripe.reset()  # order ids restart after a wipe: so must Stripe idempotency keys
    localstripe.webhooks_off()
    a, b = app_processes.instances

    def setup(session):
        variant = make_variant(session, stock=STOCK)
        return variant.id, variant.sku

    variant_id, sku = committed_rows(app, setup)
    # Each cart is filled on one instance and checked out on the other.
    carts = [(new_cart_with((a, b)[i % 2].url, sku), (b, a)[i % 2].url) for i in range(BUYERS)]
    start = threading.Barrier(BUYERS)

    def buy(cart_and_base):
        cart_id, base = cart_and_base
        start.wait()
        return requests.post(f"{base}/api/v1/carts/{cart_id}/checkout", timeout=60, json={
            "email": "racer@example.com", "shipping_method": "click-and-collect"})

    with ThreadPoolExecutor(max_workers=BUYERS) as pool:
        responses = list(pool.map(buy, carts))

    statuses = sorted(response.status_code for response in responses)
    assert statuses == [201] * STOCK + [409] * (BUYERS - STOCK), [r.text for r in responses]
    refused = [r for r in responses if r.status_code == 409]
    assert {r.headers["Content-Type"] for r in refused} == {PROBLEM}
    assert {r.json()["code"] for r in refused} <= {"insufficient_stock", "cart_not_purchasable"}
    sold = [r.json() for r in responses if r.status_code == 201]
    intents = {placed["payment"]["payment_intent_id"] for placed in sold}
    assert len(intents) == STOCK and all(placed["payment"]["client_secret"] for placed in sold)

    def ledger(session):
        level = session.get(StockLevel, variant_id)
        moved = session.scalar(select(func.coalesce(func.sum(StockMovement.quantity), 0))
                               .where(StockMovement.variant_id == variant_id))
        held = session.scalar(select(func.coalesce(func.sum(StockReservation.quantity), 0))
                              .where(StockReservation.variant_id == variant_id,
                                     StockReservation.status == "active"))
        pending = session.scalars(select(Order.id).where(Order.status == "pending_payment"))
        return level.on_hand, level.reserved, moved, held, sorted(pending)

    on_hand, reserved, moved, held, pending = read(app, ledger)
    assert (on_hand, reserved, moved, held) == (STOCK, STOCK, STOCK, STOCK)
    assert pending == sorted(placed["order"]["id"] for placed in sold)


def sign_in(base: str) -> requests.Response:
    return requests.post(f"{base}/api/v1/auth/token", timeout=10,
                         json={"email": "nobody@example.com", "password": "not the password"})


def test_the_sign_in_limit_is_shared_by_both_app_processes(committed, app_processes):
    app_processes.clear_rate_limits()
    a, b = app_processes.instances
    # LOGIN_RATE_LIMIT is 3 per hour per address; four workers in two processes count once.
    assert [sign_in(a.url).status_code for _ in range(3)] == [401, 401, 401]
    refused = sign_in(b.url)
    assert refused.status_code == 429, refused.text
    assert refused.headers["Content-Type"] == PROBLEM
    assert refused.json()["code"] == "rate_limited"
    assert 0 < int(refused.headers["Retry-After"]) <= 3600
    assert sign_in(a.url).status_code == 429
    app_processes.clear_rate_limits()
    assert sign_in(b.url).status_code == 401  # the counters live in Redis only


def _voucher_ledger(session, voucher_id: int) -> tuple[Voucher, int, int]:
    voucher = session.get(Voucher, voucher_id)
    total, held = session.execute(
        select(func.coalesce(func.sum(VoucherTransaction.amount), 0),
               func.coalesce(func.sum(VoucherTransaction.held_change), 0))
        .where(VoucherTransaction.voucher_id == voucher_id)
    ).one()
    session.expunge(voucher)
    return voucher, total, held


def _redeem(base: str, headers: dict, code: str, body: dict, barrier) -> requests.Response:
    barrier.wait()
    return requests.post(f"{base}/api/v1/admin/vouchers/{code}/redemptions", json=body,
                         headers=headers, timeout=30)


def test_a_voucher_is_never_overspent_by_tills_and_the_web_shop_on_two_processes(
    app, committed, app_processes, localstripe,
):
    """Each round, a £50 voucher: four tills (two per process) take £20 each while a £30 web
    order on one process pays with it. Whoever wins, exactly £50 is used and the ledger adds
    up. The web order is checked out on the process it was not built on."""
    localstripe.reset()
    localstripe.webhooks_off()
    a, b = app_processes.instances
    tills = committed_rows(app, lambda session: [
        bearer_for(session, make_user(session, role="staff")) for _ in range(4)])
    spend = {"amount": {"amount": 2000, "currency": "GBP"}, "note": "two-process race"}
    for round_number in range(VOUCHER_ROUNDS):
        shop, other = (a, b) if round_number % 2 else (b, a)

        def setup(session):
            issued = issue_money(session, 5000)
            goods = make_variant(session, price=3000, stock=1)
            return issued.voucher.id, issued.code, goods.sku

        voucher_id, code, sku = committed_rows(app, setup)
        cart_id = new_cart_with(shop.url, sku)
        applied = requests.post(f"{shop.url}/api/v1/carts/{cart_id}/vouchers",
                                json={"code": code}, timeout=10)
        assert applied.status_code == 200, applied.text
        barrier = threading.Barrier(len(tills) + 1)

        def web_shop(base=other.url, cart_id=cart_id, barrier=barrier):
            barrier.wait()
            return requests.post(f"{base}/api/v1/carts/{cart_id}/checkout", timeout=30, json={
                "email": "racer@example.com", "shipping_method": "click-and-collect"})

        with ThreadPoolExecutor(max_workers=len(tills) + 1) as pool:
            tills_done = [pool.submit(_redeem, (a, b)[i % 2].url, headers, code, spend, barrier)
                          for i, headers in enumerate(tills)]
            web = pool.submit(web_shop).result()
            redeemed = [future.result() for future in tills_done]

        assert web.status_code == 201, web.text
        order = web.json()["order"]
        statuses = [response.status_code for response in redeemed]
        assert set(statuses) <= {201, 409}, [response.text for response in redeemed]
        assert all(r.headers["Content-Type"] == PROBLEM for r in redeemed
                   if r.status_code == 409)
        paid_by_voucher = 3000 - order["totals"]["amount_due"]["amount"]
        assert 2000 * statuses.count(201) + paid_by_voucher == 5000, (statuses, order)
        voucher, total, held = read(app, lambda s, v=voucher_id: _voucher_ledger(s, v))
        assert voucher.balance_amount == total and voucher.held_amount == held
        assert voucher.balance_amount - voucher.held_amount == 0


def test_a_treatment_voucher_is_redeemed_once_by_tills_on_two_processes(
    app, committed, app_processes,
):
    a, b = app_processes.instances

    def setup(session):
        issued = issue_treatment(session, "skin-peel")
        tills = [bearer_for(session, make_user(session, role="staff")) for _ in range(4)]
        return issued.voucher.id, issued.code, tills

    voucher_id, code, tills = committed_rows(app, setup)
    barrier = threading.Barrier(len(tills))
    with ThreadPoolExecutor(max_workers=len(tills)) as pool:
        redeemed = list(pool.map(
            lambda pair: _redeem((a, b)[pair[0] % 2].url, pair[1], code,
                                 {"treatment": "skin-peel"}, barrier),
            enumerate(tills)))
    assert sorted(r.status_code for r in redeemed) == [201, 409, 409, 409], [
        r.text for r in redeemed]
    voucher, total, _held = read(app, lambda s: _voucher_ledger(s, voucher_id))
    assert voucher.status == "redeemed" and voucher.balance_amount == total == 0


def test_a_chunked_oversized_body_is_a_413_from_gunicorn(committed, app_processes):
    """Through a real server a streaming client sends no Content-Length: the limit still
    holds while the body is read."""
    limit = 1024 * 1024

    def chunks():
        yield b'{"email": "big@example.com", "password": "'
        for _ in range(limit // 65536 + 1):
            yield b"x" * 65536
        yield b'"}'

    response = requests.post(f"{app_processes.a.url}/api/v1/auth/register", data=chunks(),
                             headers={"Content-Type": "application/json"}, timeout=30)
    assert response.status_code == 413, response.text
    assert response.headers["Content-Type"] == PROBLEM
    assert response.json()["code"] == "payload_too_large"
