"""Cart pricing as plain functions of catalogue facts: no database, no Flask.

VAT is included in UK shelf prices; we show how much of each line (and of shipping) is VAT,
rounded per line. Lines that cannot be bought are flagged with their problems, never dropped.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

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


@dataclass(frozen=True)
class Discount:
    """A reduction of the total (filled by the vouchers domain)."""

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


def price_line(line: LineInput, vat_rate: int) -> PricedLine:
    total = line.unit_price * line.quantity
    return PricedLine(line, total, Vat(vat_rate, total.vat_included(vat_rate)), line_problems(line))


def vat_breakdown(amounts: list[Vat], currency: str) -> tuple[Vat, ...]:
    by_rate: dict[int, Money] = defaultdict(lambda: Money.zero(currency))
    for vat in amounts:
        by_rate[vat.rate] = by_rate[vat.rate] + vat.amount
    return tuple(Vat(rate, amount) for rate, amount in sorted(by_rate.items(), reverse=True))


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
    priced = tuple(
        price_line(line, vat_rate if line.vat_rate is None else line.vat_rate) for line in lines
    )
    zero = Money.zero(currency)
    subtotal = sum((p.line_total for p in priced), zero)
    requires_shipping = any(p.line.ships for p in priced)
    method = shipping_method if requires_shipping else None
    shippable = sum((p.line_total for p in priced if p.line.ships), zero)
    shipping = method.price_for(shippable, free_shipping_threshold) if method else zero
    shipping_vat = Vat(vat_rate, shipping.vat_included(vat_rate))
    discount = sum((d.amount for d in discounts), zero)
    vats = [p.vat for p in priced] + ([shipping_vat] if shipping.amount else [])
    breakdown = vat_breakdown(vats, currency)
    return PricedCart(
        currency=currency, lines=priced, requires_shipping=requires_shipping,
        shipping_method=method, subtotal=subtotal, shipping=shipping, shipping_vat=shipping_vat,
        discounts=discounts, discount=discount, vat=sum((v.amount for v in breakdown), zero),
        vat_breakdown=breakdown, total=subtotal + shipping - discount,
        problems=tuple(sorted({problem for p in priced for problem in p.problems})),
    )
