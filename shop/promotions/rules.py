"""What a promotion takes off a cart, as a plain function of the promotion and the lines (no
database): the cart prices with it on every read, and checkout with the same result."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from shop.carts.pricing import Discount, LineInput, discountable
from shop.db import as_utc
from shop.money import Money

NOT_USABLE = ("disabled", "not_started", "expired", "used_up")


@dataclass(frozen=True)
class Evaluation:
    code: str
    description: str
    discount: Discount | None  # None when it takes nothing off
    reason: str | None  # why not: disabled, not_started, expired, used_up, minimum_not_reached,
    #                     no_eligible_items, wrong_currency

    @property
    def applies(self) -> bool:
        return self.discount is not None


def unusable_reason(promotion, now: datetime) -> str | None:
    if promotion.status != "active":
        return "disabled"
    if promotion.starts_at is not None and as_utc(promotion.starts_at) > now:
        return "not_started"
    if promotion.ends_at is not None and as_utc(promotion.ends_at) <= now:
        return "expired"
    if promotion.max_redemptions is not None and \
            promotion.redemptions >= promotion.max_redemptions:
        return "used_up"
    return None


def evaluate(promotion, lines: list[LineInput], currency: str, now: datetime) -> Evaluation:
    def refused(reason: str) -> Evaluation:
        return Evaluation(promotion.code, promotion.description, None, reason)

    if reason := unusable_reason(promotion, now):
        return refused(reason)
    if promotion.currency != currency:
        return refused("wrong_currency")
    eligible = sum((line.unit_price * line.quantity).amount for line in lines
                   if discountable(line))
    if not eligible:
        return refused("no_eligible_items")
    if eligible < promotion.min_subtotal_amount:
        return refused("minimum_not_reached")
    off = eligible * promotion.percent_off // 100 if promotion.percent_off \
        else min(promotion.amount_off, eligible)
    if off <= 0:
        return refused("no_eligible_items")
    return Evaluation(promotion.code, promotion.description,
                      Discount(promotion.code, promotion.description, Money(off, currency)), None)
