"""Money as integer minor units plus an ISO 4217 currency; never floats."""

from __future__ import annotations

from dataclasses import dataclass

import marshmallow as ma


@dataclass(frozen=True, slots=True)
class Money:
    amount: int
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.amount, int) or isinstance(self.amount, bool):
            raise TypeError("Money.amount must be an int of minor units")
        if len(self.currency) != 3 or not self.currency.isupper():
            raise ValueError(f"not an ISO currency code: {self.currency!r}")

    def _same_currency(self, other: Money) -> None:
        if other.currency != self.currency:
            raise ValueError(f"cannot combine {self.currency} with {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.amount - other.amount, self.currency)

    def __mul__(self, quantity: int) -> Money:
        return Money(self.amount * quantity, self.currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)

    def vat_included(self, rate_percent: int) -> Money:
        """The VAT contained in a VAT-inclusive price, rounded half up to the minor unit."""
        numerator = self.amount * rate_percent
        denominator = 100 + rate_percent
        return Money((2 * numerator + denominator) // (2 * denominator), self.currency)

    def as_dict(self) -> dict:
        return {"amount": self.amount, "currency": self.currency}


class MoneySchema(ma.Schema):
    amount = ma.fields.Integer(
        required=True, strict=True, metadata={"description": "Integer minor units (pence)"}
    )
    currency = ma.fields.String(
        required=True,
        validate=ma.validate.Regexp(r"^[A-Z]{3}$", error="Must be an ISO 4217 code."),
        metadata={"example": "GBP"},
    )

    @ma.post_load
    def to_money(self, data: dict, **_: object) -> Money:
        return Money(data["amount"], data["currency"])
