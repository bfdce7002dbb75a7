"""The voucher ledger against a real database: issue, spend, redeem, void, extend, holds."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from sqlalchemy import select

from shop.catalogue.models import Treatment, Variant
from shop.db import as_utc, utcnow
from shop.errors import Conflict, NotFound, ValidationFailed
from shop.money import Money
from shop.vouchers import codes, holds, services
from shop.vouchers.models import Voucher, VoucherTransaction
from tests.fixtures.auth import make_user
from tests.vouchers.conftest import FakeOrder, assert_ledger_matches, issue_money, issue_treatment


@pytest.fixture
def staff(db_session):
    return make_user(db_session, role="staff")


def test_issue_stores_no_usable_code(db_session, app):
    issued = issue_money(db_session, 5000)
    row = db_session.get(Voucher, issued.voucher.id)
    stored = " ".join(str(getattr(row, c.key)) for c in Voucher.__table__.columns)
    assert issued.code not in stored and codes.display(issued.code) not in stored
    assert row.code_last4 == issued.code[-4:]
    assert row.code_hash == codes.lookup_hash(issued.code, secret=app.config["VOUCHER_KEY"])
    assert services.code_for(row) == issued.code
    assert services.find_by_code(session=db_session, code=codes.display(issued.code).lower()) is row


def test_issue_writes_the_first_ledger_row_and_default_expiry(db_session, app):
    issued = issue_money(db_session, 2500)
    voucher = assert_ledger_matches(db_session, issued.voucher.id)
    assert voucher.status == "active" and voucher.balance_amount == voucher.initial_amount == 2500
    months = app.config["VOUCHER_VALIDITY_MONTHS"]
    expected = services.add_months(as_utc(voucher.created_at), months)
    assert as_utc(voucher.expires_at) == expected
    assert [t.kind for t in voucher.transactions] == ["issue"]


def test_unknown_code_is_not_found(db_session):
    with pytest.raises(NotFound) as raised:
        services.get_by_code(session=db_session, code="AAAA-BBBB-CCCC-DDDD")
    assert raised.value.code == "voucher_not_found"


def test_money_voucher_spends_in_parts_until_redeemed(db_session, staff):
    voucher = issue_money(db_session, 5000).voucher
    services.redeem_money(session=db_session, voucher=voucher, amount=Money(2000, "GBP"),
                          note="facial", staff=staff)
    assert assert_ledger_matches(db_session, voucher.id).balance_amount == 3000
    with pytest.raises(Conflict) as raised:
        services.redeem_money(session=db_session, voucher=voucher, amount=Money(3001, "GBP"),
                              note="too much", staff=staff)
    assert raised.value.code == "insufficient_balance"
    assert raised.value.extra["available"] == {"amount": 3000, "currency": "GBP"}
    services.redeem_money(session=db_session, voucher=voucher, amount=Money(3000, "GBP"),
                          note="the rest", staff=staff)
    voucher = assert_ledger_matches(db_session, voucher.id)
    assert voucher.balance_amount == 0 and voucher.status == "redeemed"
    with pytest.raises(Conflict) as raised:
        services.redeem_money(session=db_session, voucher=voucher, amount=Money(1, "GBP"),
                              note="", staff=staff)
    assert raised.value.code == "voucher_redeemed"


@pytest.mark.parametrize("amount", [Money(0, "GBP"), Money(-100, "GBP"), Money(100, "EUR")])
def test_money_redemption_needs_a_positive_amount_in_the_voucher_currency(db_session, staff,
                                                                            amount):
    voucher = issue_money(db_session, 5000).voucher
    with pytest.raises(ValidationFailed):
        services.redeem_money(session=db_session, voucher=voucher, amount=amount, note="",
                              staff=staff)
    assert assert_ledger_matches(db_session, voucher.id).balance_amount == 5000


def test_treatment_voucher_keeps_its_treatment_when_the_price_rises(db_session, staff):
    voucher = issue_treatment(db_session, "hydra-facial").voucher
    treatment = db_session.scalar(select(Treatment).where(Treatment.slug == "hydra-facial"))
    paid = voucher.initial_amount
    treatment.price_amount += 2500
    db_session.flush()
    entries = services.redeem_treatment(session=db_session, voucher=voucher,
                                        treatment_slug="hydra-facial", top_up=None, staff=staff)
    assert [e.kind for e in entries] == ["redemption"]
    voucher = assert_ledger_matches(db_session, voucher.id)
    assert voucher.status == "redeemed" and voucher.balance_amount == 0
    assert voucher.initial_amount == paid  # value at purchase kept for accounting


def test_dearer_treatment_needs_a_recorded_top_up(db_session, staff):
    voucher = issue_treatment(db_session, "hydra-facial").voucher  # 175.00
    with pytest.raises(ValidationFailed) as raised:
        services.redeem_treatment(session=db_session, voucher=voucher, treatment_slug="aquagold",
                                  top_up=None, staff=staff)
    assert raised.value.code == "top_up_required"
    assert raised.value.extra["required_top_up"] == {"amount": 55000 - 17500, "currency": "GBP"}
    with pytest.raises(ValidationFailed):
        services.redeem_treatment(session=db_session, voucher=voucher, treatment_slug="aquagold",
                                  top_up=Money(100, "GBP"), staff=staff)
    entries = services.redeem_treatment(
        session=db_session, voucher=voucher, treatment_slug="aquagold",
        top_up=Money(37500, "GBP"), staff=staff,
    )
    assert [(e.kind, e.amount, e.top_up_amount) for e in entries] == [
        ("redemption", -17500, None), ("top_up", 0, 37500)]
    assert entries[0].treatment.slug == "aquagold"
    assert assert_ledger_matches(db_session, voucher.id).status == "redeemed"


def test_cheaper_treatment_needs_no_top_up_and_refuses_one(db_session, staff):
    voucher = issue_treatment(db_session, "hydra-facial").voucher
    with pytest.raises(ValidationFailed) as raised:
        services.redeem_treatment(session=db_session, voucher=voucher, treatment_slug="skin-peel",
                                  top_up=Money(500, "GBP"), staff=staff)
    assert raised.value.code == "top_up_not_needed"
    services.redeem_treatment(session=db_session, voucher=voucher, treatment_slug="skin-peel",
                              top_up=None, staff=staff)
    with pytest.raises(Conflict) as raised:
        services.redeem_treatment(session=db_session, voucher=voucher,
                                  treatment_slug="skin-peel", top_up=None, staff=staff)
    assert raised.value.code == "voucher_redeemed"


def test_kinds_are_not_interchangeable(db_session, staff):
    money = issue_money(db_session).voucher
    treatment = issue_treatment(db_session).voucher
    with pytest.raises(Conflict, match="money voucher"):
        services.redeem_treatment(session=db_session, voucher=money, treatment_slug="aquagold",
                                  top_up=None, staff=staff)
    with pytest.raises(Conflict, match="treatment voucher"):
        services.redeem_money(session=db_session, voucher=treatment, amount=Money(1, "GBP"),
                              note="", staff=staff)


def test_void_zeroes_the_balance_for_good(db_session, staff):
    voucher = issue_money(db_session, 5000).voucher
    services.void(session=db_session, voucher=voucher, reason="sold in error", staff=staff)
    voucher = assert_ledger_matches(db_session, voucher.id)
    assert voucher.status == "void" and voucher.balance_amount == 0
    assert voucher.transactions[-1].note == "sold in error"
    with pytest.raises(Conflict):
        services.void(session=db_session, voucher=voucher, reason="again", staff=staff)
    with pytest.raises(Conflict) as raised:
        services.redeem_money(session=db_session, voucher=voucher, amount=Money(1, "GBP"),
                              note="", staff=staff)
    assert raised.value.code == "voucher_void"


def test_expired_voucher_cannot_be_spent_until_extended(db_session, staff):
    voucher = issue_money(db_session, 5000, now=utcnow() - timedelta(days=400)).voucher
    assert services.effective_status(voucher) == "expired"
    with pytest.raises(Conflict) as raised:
        services.redeem_money(session=db_session, voucher=voucher, amount=Money(100, "GBP"),
                              note="", staff=staff)
    assert raised.value.code == "voucher_expired"
    services.extend(session=db_session, voucher=voucher, staff=staff, months=3)
    voucher = assert_ledger_matches(db_session, voucher.id)
    assert as_utc(voucher.expires_at) > utcnow() + timedelta(days=85)
    assert services.effective_status(voucher) == "active"
    services.redeem_money(session=db_session, voucher=voucher, amount=Money(100, "GBP"),
                          note="", staff=staff)


def test_extension_must_move_the_expiry_later(db_session, staff):
    voucher = issue_money(db_session).voucher
    with pytest.raises(ValidationFailed):
        services.extend(session=db_session, voucher=voucher, staff=staff,
                        expires_at=as_utc(voucher.expires_at) - timedelta(days=1))
    later = as_utc(voucher.expires_at) + timedelta(days=30)
    entry = services.extend(session=db_session, voucher=voucher, staff=staff, expires_at=later)
    assert entry.kind == "extension" and entry.amount == 0 and entry.staff_user_id == staff.id
    assert as_utc(db_session.get(Voucher, voucher.id).expires_at) == later


def test_frozen_voucher_cannot_be_spent(db_session, staff):
    voucher = issue_money(db_session).voucher
    assert services.set_frozen(session=db_session, voucher=voucher, frozen=True, note="dispute")
    assert services.set_frozen(session=db_session, voucher=voucher, frozen=True, note="x") is None
    with pytest.raises(Conflict) as raised:
        services.redeem_money(session=db_session, voucher=voucher, amount=Money(1, "GBP"),
                              note="", staff=staff)
    assert raised.value.code == "voucher_frozen"
    services.set_frozen(session=db_session, voucher=voucher, frozen=False, note="dispute won")
    services.redeem_money(session=db_session, voucher=voucher, amount=Money(1, "GBP"), note="",
                          staff=staff)
    kinds = [t.kind for t in assert_ledger_matches(db_session, voucher.id).transactions]
    assert kinds == ["issue", "freeze", "unfreeze", "debit"]


def test_holds_cover_the_order_in_the_order_codes_were_applied(db_session, fake_order_ids):
    first, second = issue_money(db_session, 3000), issue_money(db_session, 5000)
    order = FakeOrder(fake_order_ids(), total_amount=6500)
    held = holds.hold_for_order(session=db_session, order=order,
                                codes=[first.code, codes.display(second.code)])
    assert held == 6500
    one = assert_ledger_matches(db_session, first.voucher.id)
    two = assert_ledger_matches(db_session, second.voucher.id)
    assert (one.held_amount, one.balance_amount) == (3000, 3000)
    assert (two.held_amount, two.balance_amount) == (3500, 5000)
    assert holds.hold_for_order(session=db_session, order=order, codes=[first.code]) == 6500


def test_hold_takes_no_more_than_the_order_total(db_session, fake_order_ids):
    issued = issue_money(db_session, 10000)
    order = FakeOrder(fake_order_ids(), total_amount=2599)
    assert holds.hold_for_order(session=db_session, order=order, codes=[issued.code]) == 2599
    assert assert_ledger_matches(db_session, issued.voucher.id).available.amount == 10000 - 2599


def test_capture_debits_once_however_often_it_is_replayed(db_session, fake_order_ids):
    issued = issue_money(db_session, 5000)
    order = FakeOrder(fake_order_ids(), total_amount=5000)
    holds.hold_for_order(session=db_session, order=order, codes=[issued.code])
    assert holds.capture_holds(session=db_session, order=order) == 5000
    assert holds.capture_holds(session=db_session, order=order) == 0
    assert holds.release_holds(session=db_session, order=order) == 0
    voucher = assert_ledger_matches(db_session, issued.voucher.id)
    assert (voucher.balance_amount, voucher.held_amount, voucher.status) == (0, 0, "redeemed")
    assert [t.kind for t in voucher.transactions] == ["issue", "hold", "debit"]


def test_release_gives_the_hold_back(db_session, fake_order_ids):
    issued = issue_money(db_session, 5000)
    order = FakeOrder(fake_order_ids(), total_amount=1200)
    holds.hold_for_order(session=db_session, order=order, codes=[issued.code])
    assert holds.release_holds(session=db_session, order=order) == 1200
    assert holds.capture_holds(session=db_session, order=order) == 0
    voucher = assert_ledger_matches(db_session, issued.voucher.id)
    assert (voucher.balance_amount, voucher.held_amount) == (5000, 0)


@pytest.mark.parametrize("spoil", ["unknown", "expired", "void", "treatment", "spent", "frozen"])
def test_every_unusable_code_gets_the_same_answer(db_session, staff, fake_order_ids, spoil):
    issued = issue_treatment(db_session) if spoil == "treatment" else issue_money(db_session)
    voucher = issued.voucher
    if spoil == "expired":
        voucher.expires_at = utcnow() - timedelta(minutes=1)
    elif spoil == "void":
        services.void(session=db_session, voucher=voucher, reason="test", staff=staff)
    elif spoil == "spent":
        services.redeem_money(session=db_session, voucher=voucher, amount=voucher.balance,
                              note="", staff=staff)
    elif spoil == "frozen":
        services.set_frozen(session=db_session, voucher=voucher, frozen=True, note="dispute")
    db_session.flush()
    code = codes.generate_code() if spoil == "unknown" else issued.code
    with pytest.raises(ValidationFailed) as raised:
        holds.hold_for_order(session=db_session, order=FakeOrder(fake_order_ids(), 1000),
                             codes=[code])
    assert raised.value.code == "voucher_not_usable"
    assert raised.value.detail == holds.NOT_USABLE


def test_credit_back_refunds_the_vouchers_that_paid(db_session, fake_order_ids, staff):
    first, second = issue_money(db_session, 3000), issue_money(db_session, 5000)
    order = FakeOrder(fake_order_ids(), total_amount=7000)
    holds.hold_for_order(session=db_session, order=order, codes=[first.code, second.code])
    holds.capture_holds(session=db_session, order=order)
    assert holds.credit_back(session=db_session, order=order, amount=4500) == 4500
    one = assert_ledger_matches(db_session, first.voucher.id)
    two = assert_ledger_matches(db_session, second.voucher.id)
    assert two.balance_amount == 1000 + 4000 and two.status == "active"  # latest spent first
    assert one.balance_amount == 500 and one.status == "active"  # redeemed, active again
    assert holds.credit_back(session=db_session, order=order, amount=9999) == 2500
    assert holds.credit_back(session=db_session, order=order, amount=1) == 0


def test_credit_back_skips_a_void_voucher(db_session, fake_order_ids, staff):
    issued = issue_money(db_session, 3000)
    order = FakeOrder(fake_order_ids(), total_amount=1000)
    holds.hold_for_order(session=db_session, order=order, codes=[issued.code])
    holds.capture_holds(session=db_session, order=order)
    services.void(session=db_session, voucher=issued.voucher, reason="fraud", staff=staff)
    assert holds.credit_back(session=db_session, order=order, amount=1000) == 0
    assert assert_ledger_matches(db_session, issued.voucher.id).balance_amount == 0


def test_void_waits_for_holds(db_session, fake_order_ids, staff):
    issued = issue_money(db_session, 3000)
    holds.hold_for_order(session=db_session, order=FakeOrder(fake_order_ids(), 100),
                         codes=[issued.code])
    with pytest.raises(Conflict) as raised:
        services.void(session=db_session, voucher=issued.voucher, reason="x", staff=staff)
    assert raised.value.code == "voucher_held"


@pytest.mark.parametrize("seed", range(6))
def test_balance_is_always_the_ledger_sum(db_session, fake_order_ids, staff, seed):
    """Random sequences of every operation keep balance == sum(ledger) and never below zero."""
    rng = random.Random(seed)
    issued = issue_money(db_session, rng.choice([2500, 5000, 10000]))
    voucher_id = issued.voucher.id
    open_orders: list[FakeOrder] = []
    paid_orders: list[FakeOrder] = []
    for _ in range(25):
        voucher = db_session.get(Voucher, voucher_id)
        action = rng.choice(["spend", "hold", "capture", "release", "credit", "extend"])
        try:
            if action == "spend":
                services.redeem_money(session=db_session, voucher=voucher, staff=staff, note="",
                                      amount=Money(rng.randint(1, 4000), "GBP"))
            elif action == "hold":
                order = FakeOrder(fake_order_ids(), rng.randint(1, 4000))
                holds.hold_for_order(session=db_session, order=order, codes=[issued.code])
                open_orders.append(order)
            elif action in ("capture", "release") and open_orders:
                order = open_orders.pop(rng.randrange(len(open_orders)))
                if action == "capture":
                    holds.capture_holds(session=db_session, order=order)
                    paid_orders.append(order)
                else:
                    holds.release_holds(session=db_session, order=order)
            elif action == "credit" and paid_orders:
                holds.credit_back(session=db_session, order=rng.choice(paid_orders),
                                  amount=rng.randint(1, 3000))
            elif action == "extend":
                services.extend(session=db_session, voucher=voucher, staff=staff, months=1)
        except (Conflict, ValidationFailed):
            pass
        assert_ledger_matches(db_session, voucher_id)


def test_vat_rates_for_voucher_lines(db_session):
    money = db_session.scalar(select(Variant).where(Variant.sku == "GLW-GV-50"))
    treatment = db_session.scalar(select(Variant).where(Variant.sku == "GLW-GV-HYDRA-FACIAL"))
    product = db_session.scalar(select(Variant).where(Variant.sku == "GLW-SER-MOIST-15"))
    assert services.voucher_vat_rate(variant=money, standard_rate=20) == 0
    assert services.voucher_vat_rate(variant=treatment, standard_rate=20) == 20
    assert services.voucher_vat_rate(variant=product, standard_rate=20) == 20


def test_ledger_rows_carry_the_running_balance(db_session, staff):
    voucher = issue_money(db_session, 1000).voucher
    services.redeem_money(session=db_session, voucher=voucher, amount=Money(400, "GBP"),
                          note="", staff=staff)
    rows = db_session.scalars(select(VoucherTransaction).where(
        VoucherTransaction.voucher_id == voucher.id).order_by(VoucherTransaction.id)).all()
    assert [(r.kind, r.amount, r.balance_after) for r in rows] == [
        ("issue", 1000, 1000), ("debit", -400, 600)]


def test_a_treatment_voucher_variant_must_name_its_treatment(db_session):
    from sqlalchemy.exc import IntegrityError

    variant = db_session.scalar(select(Variant).where(Variant.sku == "GLW-GV-HYDRA-FACIAL"))
    with pytest.raises(IntegrityError), db_session.begin_nested():
        variant.treatment_id = None
        db_session.flush()
