"""Cart pricing as plain functions of catalogue facts: no database, no Flask.

VAT is included in UK shelf prices; we show how much of each line (and of shipping) is VAT,
rounded per line. Lines that cannot be bought are flagged with their problems, never dropped.
A discount (a promotion code) comes off the products, never shipping or gift vouchers, and
VAT is due on what is actually paid: it is shared over the product lines in proportion to
their totals, and each line's VAT is taken from its total less its share.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from shop.checkout.shipping import ShippingMethod
from shop.money import Money

UNAVAILABLE, OUT_OF_STOCK, INSUFFICIENT_STOCK = "unavailable", "out_of_stock", "insufficient_stock"


@dataclass(frozen=True)
class LineInput:
    """One cart line as the catalogue sees it now."""

    item_id: int
    variant_id: int
    sku: str
    product_name: str
    variant_name: str
    product_slug: str
    image_url: str | None
    unit_price: Money
    quantity: int
    available: int
    sellable: bool
    ships: bool = True
    tracks_stock: bool = True
    kind: str = "product"
    vat_rate: int | None = None  # None: the standard rate (a money voucher line has 0)

    @property
    def name(self) -> str:
        if not self.variant_name:
            return self.product_name
        return f"{self.product_name} - {self.variant_name}"


@dataclass(frozen=True)
class Vat:
    rate: int
    amount: Money


@dataclass(frozen=True)
class PricedLine:
    line: LineInput
    line_total: Money
    vat: Vat
    problems: tuple[str, ...]
    discount: Money | None = None  # this line's share of the cart's discounts


def discountable(line: LineInput) -> bool:
    return line.kind == "product"


@dataclass(frozen=True)
class Discount:
    """A reduction of the products' total (a promotion code)."""

    code: str
    description: str
    amount: Money


@dataclass(frozen=True)
class PricedCart:
    currency: str
    lines: tuple[PricedLine, ...]
    requires_shipping: bool
    shipping_method: ShippingMethod | None
    subtotal: Money
    shipping: Money
    shipping_vat: Vat
    discounts: tuple[Discount, ...]
    discount: Money
    vat: Money
    vat_breakdown: tuple[Vat, ...]
    total: Money
    problems: tuple[str, ...] = field(default=())
    promotion: Any = None  # the cart's promotion code, evaluated (shop.promotions.rules)

    @property
    def purchasable(self) -> bool:
        return bool(self.lines) and not self.problems


def line_problems(line: LineInput) -> tuple[str, ...]:
    if not line.sellable:
        return (UNAVAILABLE,)
    if not line.tracks_stock:
        return ()
    if line.available <= 0:
        return (OUT_OF_STOCK,)
    if line.available < line.quantity:
        return (INSUFFICIENT_STOCK,)
    return ()


def price_line(line: LineInput, vat_rate: int, discount: Money | None = None) -> PricedLine:
    total = line.unit_price * line.quantity
    paid = total - discount if discount else total
    return PricedLine(line, total, Vat(vat_rate, paid.vat_included(vat_rate)),
                      line_problems(line), discount)


def shares(totals: list[int], amount: int) -> list[int]:
    """`amount` split over `totals` in proportion (rounded down), the pennies left over going
    to the largest; never more than a line's own total."""
    whole = sum(totals)
    if not whole or not amount:
        return [0] * len(totals)
    amount = min(amount, whole)
    split = [amount * total // whole for total in totals]
    largest = max(range(len(totals)), key=lambda index: totals[index])
    split[largest] += amount - sum(split)
    return split


def vat_breakdown(amounts: list[Vat], currency: str) -> tuple[Vat, ...]:
    by_rate: dict[int, Money] = defaultdict(lambda: Money.zero(currency))
    for vat in amounts:
        by_rate[vat.rate] = by_rate[vat.rate] + vat.amount
    return tuple(Vat(rate, amount) for rate, amount in sorted(by_rate.items(), reverse=True))


def _line_discounts(lines: list[LineInput], discounts: tuple[Discount, ...]) -> list[int]:
    """Each line's share of the discounts (0 for what is not discountable)."""
    if not discounts:
        return [0] * len(lines)
    eligible = [index for index, line in enumerate(lines) if discountable(line)]
    split = shares([(lines[index].unit_price * lines[index].quantity).amount
                    for index in eligible], sum(d.amount.amount for d in discounts))
    cut = [0] * len(lines)
    for index, share in zip(eligible, split, strict=True):
        cut[index] = share
    return cut


def price_cart(
    lines: list[LineInput],
    *,
    currency: str,
    vat_rate: int,
    shipping_method: ShippingMethod | None,
    free_shipping_threshold: int,
    discounts: tuple[Discount, ...] = (),
) -> PricedCart:
    """Price every line, add shipping when something ships, and total it all up."""
    cut = _line_discounts(lines, discounts)
    priced = tuple(
        price_line(line, vat_rate if line.vat_rate is None else line.vat_rate,
                   Money(share, currency) if share else None)
        for line, share in zip(lines, cut, strict=True)
    )
    zero = Money.zero(currency)
    subtotal = sum((p.line_total for p in priced), zero)
    requires_shipping = any(p.line.ships for p in priced)
    method = shipping_method if requires_shipping else None
    shippable = sum((p.line_total - (p.discount or zero) for p in priced if p.line.ships), zero)
    shipping = method.price_for(shippable, free_shipping_threshold) if method else zero
    shipping_vat = Vat(vat_rate, shipping.vat_included(vat_rate))
    discount = Money(sum(cut), currency)  # at most what the products cost
    vats = [p.vat for p in priced] + ([shipping_vat] if shipping.amount else [])
    breakdown = vat_breakdown(vats, currency)
    return PricedCart(
        currency=currency, lines=priced, requires_shipping=requires_shipping,
        shipping_method=method, subtotal=subtotal, shipping=shipping, shipping_vat=shipping_vat,
        discounts=discounts, discount=discount, vat=sum((v.amount for v in breakdown), zero),
        vat_breakdown=breakdown, total=subtotal + shipping - discount,
        problems=tuple(sorted({problem for p in priced for problem in p.problems})),
    )
