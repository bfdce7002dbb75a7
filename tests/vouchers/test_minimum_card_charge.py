"""Vouchers never leave the card a positive amount below what Stripe will charge (GBP 30p)."""

import pytest

from shop.money import Money
from shop.vouchers.cart import payable_by_vouchers
from tests.carts.factories import make_variant
from tests.vouchers.conftest import issue_money, place_order


@pytest.mark.parametrize(
    ("total", "available", "share"),
    [
        (5000, 10000, 5000),  # covered in full: nothing for the card
        (5000, 2000, 2000),  # plenty left for the card
        (5000, 4990, 4970),  # 10p left would be refused: the card pays the 30p minimum
        (5000, 4971, 4970),
        (5000, 4970, 4970),
        (20, 10, 0),  # an order below the minimum can't be split at all
    ],
)
def test_share_respects_the_minimum_charge(total, available, share):
    assert payable_by_vouchers(Money(total, "GBP"), 0, available) == share


def test_checkout_leaves_at_least_the_minimum_for_the_card(db_session, client):
    variant = make_variant(db_session, price=5000, stock=3)
    voucher = issue_money(db_session, amount=4990)
    order = place_order(db_session, [(variant.sku, {})], applied=[voucher.code])
    assert order.total_amount == 5000
    assert order.amount_due == 30
