"""No balance below zero under any concurrency: two tills and the web shop's checkout (all
over HTTP, against a real threaded server) spend the same voucher at the same moment."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from sqlalchemy import func, select

from shop.extensions import db
from shop.vouchers.models import Voucher, VoucherTransaction
from tests.carts.factories import make_variant
from tests.fixtures.auth import bearer_for, make_user
from tests.fixtures.live import serve_app
from tests.fixtures.stripe import settings_for
from tests.vouchers.conftest import issue_money, issue_treatment

pytestmark = [pytest.mark.postgresql_only, pytest.mark.slow]
DELAYS = ((0, 0), (0.01, 0.04), (0.015, 0.05), (0.02, 0.06), (0.03, 0.03), (0.1, 0.1))
ROUNDS = len(DELAYS)


def _committed_setup(app, make) -> tuple[list, dict]:
    with app.app_context():
        issued = [make(db.session) for _ in range(ROUNDS)]
        tills = [bearer_for(db.session, make_user(db.session, role="staff")) for _ in range(2)]
        goods = make_variant(db.session, price=3000, stock=ROUNDS)
        db.session.commit()
        result = [(item.voucher.id, item.code) for item in issued], tills, goods.sku
        db.session.remove()
    return result


def _cart_with_voucher(base: str, sku: str, code: str) -> str:
    cart = requests.post(f"{base}/api/v1/carts", timeout=10).json()["id"]
    requests.post(f"{base}/api/v1/carts/{cart}/items", json={"sku": sku}, timeout=10)
    applied = requests.post(f"{base}/api/v1/carts/{cart}/vouchers", json={"code": code},
                            timeout=10)
    assert applied.status_code == 200, applied.text
    return cart


def _web_shop(base: str, cart: str, barrier) -> dict:
    barrier.wait()
    response = requests.post(f"{base}/api/v1/carts/{cart}/checkout", timeout=30, json={
        "email": "racer@example.com", "shipping_method": "click-and-collect"})
    assert response.status_code == 201, response.text
    return response.json()["order"]


def _till(base: str, headers: dict, code: str, body: dict, barrier, delay: float = 0) -> int:
    barrier.wait()
    time.sleep(delay)  # the checkout does more before it reaches the voucher: vary who wins
    return requests.post(f"{base}/api/v1/admin/vouchers/{code}/redemptions", json=body,
                         headers=headers, timeout=30).status_code


def _ledger_state(app, voucher_id: int) -> tuple[Voucher, int, int]:
    with app.app_context():
        voucher = db.session.get(Voucher, voucher_id)
        total, held = db.session.execute(
            select(func.sum(VoucherTransaction.amount), func.sum(VoucherTransaction.held_change))
            .where(VoucherTransaction.voucher_id == voucher_id)
        ).one()
        db.session.expunge(voucher)
        db.session.remove()
    return voucher, total, held


def test_two_tills_and_the_web_shop_cannot_overspend(app, app_config, committed, localstripe):
    """Each round: a £50 voucher; two tills take £20 each while a £30 web order pays with it."""
    vouchers, tills, sku = _committed_setup(app, lambda s: issue_money(s, 5000))
    localstripe.reset()
    config = {**app_config, **settings_for(localstripe, "whsec_race_unused")}
    with serve_app(config) as base, ThreadPoolExecutor(max_workers=3) as pool:
        for round_number, (voucher_id, code) in enumerate(vouchers):
            cart = _cart_with_voucher(base, sku, code)
            barrier = threading.Barrier(3)
            spend = {"amount": {"amount": 2000, "currency": "GBP"}, "note": "race"}
            till_results = [pool.submit(_till, base, headers, code, spend, barrier, delay)
                            for headers, delay in zip(tills, DELAYS[round_number], strict=True)]
            web = pool.submit(_web_shop, base, cart, barrier)
            statuses = sorted(result.result() for result in till_results)
            order = web.result()
            paid_by_voucher = 3000 - order["totals"]["amount_due"]["amount"]
            voucher, total, held_sum = _ledger_state(app, voucher_id)
            assert set(statuses) <= {201, 409}
            # Demand (2000 + 2000 + 3000) exceeds the 5000: whoever comes first, the voucher is
            # used up exactly (the web order takes what is left, the card pays the rest).
            assert 2000 * statuses.count(201) + paid_by_voucher == 5000, (statuses, order)
            assert order["status"] == ("paid" if paid_by_voucher == 3000 else "pending_payment")
            assert voucher.balance_amount == total and voucher.held_amount == held_sum
            assert voucher.balance_amount - voucher.held_amount == 0
            assert 0 <= voucher.held_amount <= voucher.balance_amount


def test_a_treatment_voucher_is_redeemed_once_by_two_tills(app, app_config, committed):
    vouchers, tills, _sku = _committed_setup(app, lambda s: issue_treatment(s, "skin-peel"))
    with serve_app(app_config) as base, ThreadPoolExecutor(max_workers=2) as pool:
        for voucher_id, code in vouchers:
            barrier = threading.Barrier(2)
            results = [pool.submit(_till, base, headers, code, {"treatment": "skin-peel"}, barrier)
                       for headers in tills]
            assert sorted(result.result() for result in results) == [201, 409]
            voucher, total, _held = _ledger_state(app, voucher_id)
            assert voucher.status == "redeemed" and voucher.balance_amount == total == 0


def test_paid_reported_twice_at_once_issues_each_voucher_once(app, committed):
    """The webhook and the app's sync call mark the same order paid at the same moment."""
    from shop.orders import services as orders
    from shop.vouchers import purchases
    from tests.vouchers.conftest import place_order

    with app.app_context():
        order = place_order(db.session, [("GLW-GV-50", {}), ("GLW-GV-HYDRA-FACIAL", {})])
        order_id, due = order.id, order.amount_due
        db.session.commit()
        db.session.remove()
    barrier = threading.Barrier(2)

    def mark_paid(reference: str) -> bool:
        with app.app_context():
            barrier.wait()
            result = orders.mark_paid(session=db.session, order_id=order_id,
                                      amount_received=due, reference=reference)
            db.session.commit()
            db.session.remove()
            return result.changed

    with ThreadPoolExecutor(max_workers=2) as pool:
        changed = list(pool.map(mark_paid, ["webhook", "sync"]))
    assert sorted(changed) == [False, True]
    with app.app_context():
        bought = purchases.bought_by(session=db.session, order_id=order_id)
        assert sorted(v.kind for v in bought) == ["money", "treatment"]
        db.session.remove()


def test_two_staff_sending_fresh_codes_at_once_leave_one_valid_email(app, app_config, committed):
    """Two staff replace a voucher's code and send it at the same moment: the voucher row's
    lock puts them in turn, and the second withdraws the first's unsent email, so exactly one
    email waits, to the last address given, with the code that works."""
    from shop.notifications import sealing
    from shop.notifications.models import OutboxEmail
    from shop.vouchers import codes, delivery, services

    vouchers, staff, _sku = _committed_setup(
        app, lambda s: issue_money(s, 5000, recipient_email="typo@exmaple.com"))
    with serve_app(app_config) as base, ThreadPoolExecutor(max_workers=2) as pool:
        for voucher_id, _code in vouchers:
            barrier = threading.Barrier(2)

            def resend(headers: dict, to: str, barrier=barrier, voucher_id=voucher_id) -> int:
                barrier.wait()
                return requests.post(
                    f"{base}/api/v1/admin/vouchers/{voucher_id}/resend", headers=headers,
                    json={"recipient_email": to, "new_code": True}, timeout=30).status_code

            sent = [pool.submit(resend, headers, f"staff{n}@example.com")
                    for n, headers in enumerate(staff)]
            assert [future.result() for future in sent] == [202, 202]
            with app.app_context():
                voucher = db.session.get(Voucher, voucher_id)
                waiting = db.session.scalars(select(OutboxEmail).where(
                    OutboxEmail.status == "pending",
                    OutboxEmail.dedupe_key.startswith(delivery.resend_key_prefix(voucher)))).all()
                assert len(waiting) == 1
                assert waiting[0].to == voucher.recipient_email
                text = sealing.content_of(waiting[0]).text
                assert codes.display(services.code_for(voucher)) in text
                db.session.remove()
