"""Shipping methods: a small fixed table, priced against the cart's shippable subtotal."""

from __future__ import annotations

from dataclasses import dataclass

from shop.errors import ValidationFailed
from shop.money import Money

CLINIC_ADDRESS = "Aesthetics GLOW Clinic, London"


@dataclass(frozen=True)
class ShippingMethod:
    code: str
    name: str
    description: str
    price_amount: int
    free_over_threshold: bool
    requires_address: bool

    def price_for(self, shippable_subtotal: Money, free_threshold: int) -> Money:
        """Standard delivery is free at or above the threshold; the others never change."""
        if self.free_over_threshold and shippable_subtotal.amount >= free_threshold:
            return Money.zero(shippable_subtotal.currency)
        return Money(self.price_amount, shippable_subtotal.currency)


METHODS: tuple[ShippingMethod, ...] = (
    ShippingMethod(
        "uk-standard", "UK standard delivery", "Royal Mail Tracked 48, 2-3 working days.",
        395, free_over_threshold=True, requires_address=True,
    ),
    ShippingMethod(
        "uk-next-day", "UK next-day delivery",
        "Order before 2pm on a working day for delivery the next working day.",
        695, free_over_threshold=False, requires_address=True,
    ),
    ShippingMethod(
        "click-and-collect", "Click and collect at the clinic",
        f"Free. Collect from {CLINIC_ADDRESS}; we email you when your order is ready.",
        0, free_over_threshold=False, requires_address=False,
    ),
)
DEFAULT_METHOD = "uk-standard"
BY_CODE = {method.code: method for method in METHODS}


def get_method(code: str) -> ShippingMethod:
    method = BY_CODE.get(code)
    if method is None:
        raise ValidationFailed(
            "Unknown shipping method.", code="unknown_shipping_method",
            errors={"shipping_method": [f"Must be one of: {', '.join(BY_CODE)}."]},
        )
    return method


def listing(currency: str, free_threshold: int) -> list[dict]:
    """The methods as the API shows them."""
    return [
        {
            "code": method.code, "name": method.name, "description": method.description,
            "price": Money(method.price_amount, currency),
            "free_from": Money(free_threshold, currency) if method.free_over_threshold else None,
            "requires_address": method.requires_address,
        }
        for method in METHODS
    ]
