"""Cart pricing rules, with no database: VAT, shipping, problems, totals."""

from __future__ import annotations

from shop.carts.pricing import Discount, LineInput, price_cart
from shop.checkout.shipping import BY_CODE
from shop.money import Money

STANDARD, NEXT_DAY = BY_CODE["uk-standard"], BY_CODE["uk-next-day"]
COLLECT = BY_CODE["click-and-collect"]


def line(price: int, quantity: int = 1, *, available: int = 10, sellable: bool = True,
         ships: bool = True, item_id: int = 1) -> LineInput:
    return LineInput(
        item_id=item_id, variant_id=item_id, sku=f"SKU-{item_id}", product_name="Serum",
        variant_name="30 ml", product_slug="serum", image_url=None,
        unit_price=Money(price, "GBP"), quantity=quantity, available=available,
        sellable=sellable, ships=ships, tracks_stock=ships,
    )


def price(lines, method=STANDARD, **kwargs):
    return price_cart(lines, currency="GBP", vat_rate=20, shipping_method=method,
                      free_shipping_threshold=4000, **kwargs)


def test_vat_is_included_per_line_and_rounded_half_up():
    priced = price([line(1200, 2), line(999, 1, item_id=2)], method=COLLECT)
    first, second = priced.lines
    assert first.line_total == Money(2400, "GBP") and first.vat.amount == Money(400, "GBP")
    assert second.vat.amount == Money(167, "GBP")  # 999 / 6 = 166.5
    assert priced.vat == Money(567, "GBP")
    assert [(v.rate, v.amount.amount) for v in priced.vat_breakdown] == [(20, 567)]
    assert priced.total == Money(3399, "GBP")


def test_standard_shipping_is_free_at_the_threshold_and_charged_below_it():
    below = price([line(3999)])
    at = price([line(2000, 2)])
    assert below.shipping == Money(395, "GBP") and below.total == Money(4394, "GBP")
    assert at.shipping == Money(0, "GBP") and at.total == Money(4000, "GBP")


def test_next_day_is_never_free_and_its_vat_counts():
    priced = price([line(6000)], method=NEXT_DAY)
    assert priced.shipping == Money(695, "GBP")
    assert priced.shipping_vat.amount == Money(116, "GBP")  # 695 / 6 = 115.83
    assert priced.vat == Money(1000 + 116, "GBP")
    assert priced.total == Money(6695, "GBP")


def test_click_and_collect_is_free():
    assert price([line(1000)], method=COLLECT).shipping == Money(0, "GBP")


def test_a_cart_with_nothing_to_ship_needs_no_method():
    priced = price([line(5000, ships=False)], method=NEXT_DAY)
    assert not priced.requires_shipping and priced.shipping_method is None
    assert priced.shipping == Money(0, "GBP") and priced.total == Money(5000, "GBP")


def test_problem_lines_are_flagged_not_dropped():
    priced = price([
        line(1000, 1, item_id=1),
        line(1000, 1, sellable=False, item_id=2),
        line(1000, 1, available=0, item_id=3),
        line(1000, 4, available=3, item_id=4),
    ])
    assert [p.problems for p in priced.lines] == [
        (), ("unavailable",), ("out_of_stock",), ("insufficient_stock",)
    ]
    assert len(priced.lines) == 4 and priced.subtotal == Money(7000, "GBP")
    assert not priced.purchasable
    assert set(priced.problems) == {"unavailable", "out_of_stock", "insufficient_stock"}


def test_an_empty_cart_is_not_purchasable():
    priced = price([])
    assert not priced.purchasable and priced.total == Money(0, "GBP")
    assert not priced.requires_shipping


def test_discounts_reduce_the_total():
    discount = Discount("GLOW5", "£5 off", Money(500, "GBP"))
    priced = price([line(2000)], method=COLLECT, discounts=(discount,))
    assert priced.discount == Money(500, "GBP") and priced.total == Money(1500, "GBP")
    assert priced.vat == Money(250, "GBP")  # VAT on the 15.00 paid, not on 20.00


def test_a_discount_is_shared_over_the_products_and_their_vat_follows():
    discount = Discount("GLOW10", "10% off", Money(700, "GBP"))
    priced = price([line(3000, 2), line(1000, 1, item_id=2)], method=COLLECT,
                   discounts=(discount,))
    first, second = priced.lines
    assert (first.discount, second.discount) == (Money(600, "GBP"), Money(100, "GBP"))
    assert first.line_total == Money(6000, "GBP")  # shown as priced, the cut beside it
    assert (first.vat.amount, second.vat.amount) == (Money(900, "GBP"), Money(150, "GBP"))
    assert priced.vat == Money(1050, "GBP") and priced.total == Money(6300, "GBP")


def test_pennies_left_by_the_split_go_to_the_largest_line():
    from shop.carts.pricing import shares

    assert shares([1000, 1000, 1001], 100) == [33, 33, 34]
    assert shares([500, 300], 10_000) == [500, 300]  # never more than the goods
    assert shares([], 100) == [] and shares([500], 0) == [0]


def test_gift_vouchers_and_shipping_are_not_discounted():
    from dataclasses import replace

    voucher = replace(line(5000, item_id=2), kind="voucher", vat_rate=0, ships=False,
                      tracks_stock=False)
    discount = Discount("GLOW50", "£50 off", Money(5000, "GBP"))
    priced = price([line(1000), voucher], method=BY_CODE["uk-next-day"], discounts=(discount,))
    assert priced.discount == Money(1000, "GBP")  # only the product's 10.00
    assert priced.lines[1].discount is None
    assert priced.total == Money(1000 + 5000 + 695 - 1000, "GBP")


def test_free_shipping_counts_what_is_paid_after_the_discount():
    discount = Discount("GLOW5", "£5 off", Money(500, "GBP"))
    priced = price([line(4200)], discounts=(discount,))  # 42.00 - 5.00 is below 40.00
    assert priced.shipping == Money(395, "GBP")
