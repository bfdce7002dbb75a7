"""Voucher test helpers: issue vouchers directly and check the ledger invariant."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import func, select

from shop.catalogue.models import Treatment
from shop.money import Money
from shop.vouchers import services
from shop.vouchers.models import Voucher, VoucherTransaction
from tests.carts.conftest import user_resolved_per_request  # noqa: F401  (each request its user)


def issue_money(session, amount: int = 5000, **fields) -> services.IssuedVoucher:
    return services.issue(session=session, kind="money", value=Money(amount, "GBP"), **fields)


def issue_treatment(session, slug: str = "hydra-facial", **fields) -> services.IssuedVoucher:
    treatment = session.scalar(select(Treatment).where(Treatment.slug == slug))
    return services.issue(
        session=session, kind="treatment", value=treatment.price, treatment=treatment, **fields
    )


def assert_ledger_matches(session, voucher_id: int) -> Voucher:
    """The balance and held amount are exactly the sums of the ledger, and never negative."""
    session.expire_all()
    voucher = session.get(Voucher, voucher_id)
    balance, held = session.execute(
        select(func.coalesce(func.sum(VoucherTransaction.amount), 0),
               func.coalesce(func.sum(VoucherTransaction.held_change), 0))
        .where(VoucherTransaction.voucher_id == voucher_id)
    ).one()
    assert voucher.balance_amount == balance
    assert voucher.held_amount == held
    assert 0 <= voucher.held_amount <= voucher.balance_amount
    last = session.scalars(
        select(VoucherTransaction).where(VoucherTransaction.voucher_id == voucher_id)
        .order_by(VoucherTransaction.id.desc()).limit(1)
    ).one()
    assert (last.balance_after, last.held_after) == (balance, held)
    return voucher


@dataclass
class FakeOrder:
    """What the hold functions need of an order (the orders domain passes its Order)."""

    id: int
    total_amount: int
    currency: str = "GBP"


@pytest.fixture
def fake_order_ids():
    """Order ids far away from any real order's."""
    counter = iter(range(900_000, 999_999))
    return lambda: next(counter)


def make_order(session, *, email: str = "buyer@example.com", user=None, token: str | None = None,
               total: int = 5000):
    """A bare paid order row (the orders domain's own factories build realistic ones)."""

    from shop.accounts.auth import hash_token
    from shop.orders.models import Order

    order = Order(
        status="paid", email=email,
        user_id=user.id if user else None, currency="GBP", subtotal_amount=total,
        vat_amount=0, total_amount=total, amount_due=total,
        access_token_hash=hash_token(token) if token else None,
    )
    session.add(order)
    session.flush()
    return order


def place_order(session, items, applied=(), email="buyer@example.com"):
    """A pending order through the cart and checkout services (no Stripe involved): `items`
    are (sku, extra add_item arguments), `applied` voucher codes."""
    from shop.carts import services as carts
    from shop.checkout import services as placing
    from shop.vouchers import checkout

    cart, _ = carts.create_cart(session=session, user=None)
    for sku, extra in items:
        carts.add_item(session=session, cart_id=cart.id, user=None, sku=sku, quantity=1, **extra)
    for code in applied:
        checkout.apply_code(session=session, cart_id=cart.id, user=None, code=code)
    return placing.place_order(session=session, cart_id=cart.id, user=None, email=email,
                               shipping_method="click-and-collect").order
