"""Promotion codes: the cart's request, and staff's view and requests."""

from __future__ import annotations

import marshmallow as ma

from shop.admin.schemas import AdminListArgsSchema, UtcDateTime
from shop.money import Money
from shop.schemas import instant_in_range, money_field, page_schema

Length = ma.validate.Length
CODE = ma.validate.Regexp(r"^\s*[A-Za-z0-9][A-Za-z0-9_-]{2,39}\s*$",
                          error="3 to 40 letters, digits, - or _.")


class ApplyCodeSchema(ma.Schema):
    code = ma.fields.String(required=True, validate=Length(min=1, max=64))


class PromotionSchema(ma.Schema):
    code = ma.fields.String(required=True)
    description = ma.fields.String(required=True)
    percent_off = ma.fields.Integer(allow_none=True)
    amount_off = ma.fields.Method("_amount_off", allow_none=True,
                                  metadata={"description": "Money off, or null for percent_off"})
    min_subtotal = ma.fields.Method("_min_subtotal", required=True, metadata={
        "description": "What the cart's products must come to first"})
    starts_at = UtcDateTime(allow_none=True)
    ends_at = UtcDateTime(allow_none=True)
    max_redemptions = ma.fields.Integer(allow_none=True)
    once_per_customer = ma.fields.Boolean(required=True, metadata={
        "description": "Each email address may use it once (a welcome offer)"})
    redemptions = ma.fields.Integer(required=True, metadata={
        "description": "Orders holding or having used the code (unpaid ones give it back)"})
    status = ma.fields.String(required=True, metadata={"description": "active | disabled"})
    created_at = UtcDateTime(required=True)

    def _amount_off(self, promotion) -> dict | None:
        if promotion.amount_off is None:
            return None
        return Money(promotion.amount_off, promotion.currency).as_dict()

    def _min_subtotal(self, promotion) -> dict:
        return Money(promotion.min_subtotal_amount, promotion.currency).as_dict()


PromotionPageSchema = page_schema(PromotionSchema, "PromotionPage")


class PromotionQuerySchema(AdminListArgsSchema):
    status = ma.fields.String(validate=ma.validate.OneOf(("active", "disabled")))


class PromotionCreateSchema(ma.Schema):
    code = ma.fields.String(required=True, validate=CODE)
    description = ma.fields.String(required=True, validate=Length(min=1, max=200))
    percent_off = ma.fields.Integer(validate=ma.validate.Range(min=1, max=100))
    amount_off = money_field()
    min_subtotal = money_field()
    starts_at = ma.fields.AwareDateTime(allow_none=True, validate=instant_in_range)
    ends_at = ma.fields.AwareDateTime(allow_none=True, validate=instant_in_range)
    max_redemptions = ma.fields.Integer(allow_none=True, validate=ma.validate.Range(min=1))
    once_per_customer = ma.fields.Boolean(load_default=False)

    @ma.validates_schema
    def one_value(self, data: dict, **_: object) -> None:
        if ("percent_off" in data) == ("amount_off" in data):
            raise ma.ValidationError("Give percent_off or amount_off, not both.",
                                     field_name="percent_off")
        if "amount_off" in data and data["amount_off"].amount <= 0:
            raise ma.ValidationError("Must be more than nothing.", field_name="amount_off")
        if "min_subtotal" in data and data["min_subtotal"].amount < 0:
            raise ma.ValidationError("Must not be negative.", field_name="min_subtotal")


class PromotionChangeSchema(ma.Schema):
    description = ma.fields.String(validate=Length(min=1, max=200))
    starts_at = ma.fields.AwareDateTime(allow_none=True, validate=instant_in_range)
    ends_at = ma.fields.AwareDateTime(allow_none=True, validate=instant_in_range)
    max_redemptions = ma.fields.Integer(allow_none=True, validate=ma.validate.Range(min=1))
    status = ma.fields.String(validate=ma.validate.OneOf(("active", "disabled")))
