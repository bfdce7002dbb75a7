"""Money rules with no database."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shop.money import Money, MoneySchema


def test_money_refuses_floats_and_bad_currencies():
    with pytest.raises(TypeError):
        Money(9.99, "GBP")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Money(999, "gbp")


def test_money_refuses_mixed_currencies():
    with pytest.raises(ValueError):
        Money(100, "GBP") + Money(100, "EUR")


def test_arithmetic():
    assert Money(250, "GBP") * 3 + Money(50, "GBP") - Money(100, "GBP") == Money(700, "GBP")


@pytest.mark.parametrize(("gross", "vat"), [(1200, 200), (3200, 533), (1, 0), (3, 1), (0, 0)])
def test_vat_included_at_20_percent(gross, vat):
    assert Money(gross, "GBP").vat_included(20) == Money(vat, "GBP")


@given(st.integers(min_value=0, max_value=10**9))
def test_vat_is_never_more_than_a_sixth_rounded(gross):
    vat = Money(gross, "GBP").vat_included(20).amount
    assert abs(vat * 6 - gross) <= 3


def test_schema_loads_exact_integers_only():
    assert MoneySchema().load({"amount": 7500, "currency": "GBP"}) == Money(7500, "GBP")
    errors = MoneySchema().validate({"amount": 75.5, "currency": "pounds"})
    assert set(errors) == {"amount", "currency"}
