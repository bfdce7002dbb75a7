"""Stock admin requests and responses."""

from __future__ import annotations

import marshmallow as ma

from shop.admin.schemas import AdminListArgsSchema, DateRangeArgsSchema, StaffRefSchema, UtcDateTime
from shop.inventory.models import MOVEMENT_REASONS
from shop.schemas import page_schema

ADJUSTMENT_REASONS = ("received", "damaged", "correction", "returned")
SIGNS = {"received": 1, "returned": 1, "damaged": -1}


class StockItemSchema(ma.Schema):
    sku = ma.fields.String(attribute="variant.sku", required=True)
    product = ma.fields.String(attribute="variant.product.name", required=True)
    product_slug = ma.fields.String(attribute="variant.product.slug")
    variant = ma.fields.String(attribute="variant.name")
    on_hand = ma.fields.Integer(required=True)
    reserved = ma.fields.Integer(required=True)
    available = ma.fields.Integer(required=True)
    low_stock_threshold = ma.fields.Integer(required=True)
    waiting = ma.fields.Integer(required=True, metadata={
        "description": "Customers waiting for a back-in-stock email about this SKU"})
    is_active = ma.fields.Boolean(attribute="variant.is_active")
    archived = ma.fields.Boolean(attribute="variant.archived", required=True, metadata={
        "description": "The variant or its product is archived: never sold or restocked again"})
    updated_at = UtcDateTime()


class StockQuerySchema(AdminListArgsSchema):
    sku = ma.fields.String(
        validate=ma.validate.Length(min=1, max=64),
        metadata={"description": "SKUs starting with this (case-insensitive)"},
    )
    low = ma.fields.Boolean(metadata={"description": "Available below the low-stock threshold"})
    out = ma.fields.Boolean(metadata={"description": "Nothing available"})
    archived = ma.fields.Boolean(metadata={
        "description": "Archived SKUs only (true) or those still sold or to be sold (false): a "
                       "variant taken off sale, or any variant of an archived product"})


class MovementSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    sku = ma.fields.String(required=True)
    product = ma.fields.String(required=True)
    quantity = ma.fields.Integer(required=True)
    reason = ma.fields.String(required=True)
    note = ma.fields.String()
    balance_after = ma.fields.Integer(required=True)
    order_id = ma.fields.Integer(allow_none=True)
    staff = ma.fields.Nested(StaffRefSchema, allow_none=True)
    created_at = UtcDateTime(required=True)


class MovementQuerySchema(AdminListArgsSchema, DateRangeArgsSchema):
    sku = ma.fields.String(validate=ma.validate.Length(min=1, max=64),
                           metadata={"description": "Exactly this SKU (case-insensitive)"})
    reason = ma.fields.String(validate=ma.validate.OneOf(MOVEMENT_REASONS))
    order_id = ma.fields.Integer(validate=ma.validate.Range(min=0, max=2**31 - 1))  # INTEGER id


class AdjustmentSchema(ma.Schema):
    """Either a signed `quantity` with a reason, or a `stocktake` with the `counted` level."""

    sku = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=64))
    reason = ma.fields.String(
        required=True, validate=ma.validate.OneOf((*ADJUSTMENT_REASONS, "stocktake"))
    )
    quantity = ma.fields.Integer(strict=True, metadata={"description": "Signed change"})
    counted = ma.fields.Integer(
        strict=True, validate=ma.validate.Range(min=0, max=10_000_000),
        metadata={"description": "stocktake only: the units counted on the shelf"},
    )
    note = ma.fields.String(load_default="", validate=ma.validate.Length(max=1000))

    @ma.validates_schema
    def check_shape(self, data: dict, **_: object) -> None:
        reason = data.get("reason")
        if reason == "stocktake":
            if "quantity" in data:
                raise ma.ValidationError("A stocktake sends `counted`, not `quantity`.",
                                         "quantity")
            if "counted" not in data:
                raise ma.ValidationError("Required for a stocktake.", "counted")
            return
        if "counted" in data:
            raise ma.ValidationError("Only a stocktake sends `counted`.", "counted")
        quantity = data.get("quantity")
        if quantity is None or quantity == 0:
            raise ma.ValidationError("A non-zero signed quantity is required.", "quantity")
        sign = SIGNS.get(reason or "")
        if sign and quantity * sign < 0:
            word = "positive" if sign > 0 else "negative"
            raise ma.ValidationError(f"Must be {word} for reason '{reason}'.", "quantity")


class AdjustmentResultSchema(ma.Schema):
    movement = ma.fields.Nested(
        MovementSchema, allow_none=True,
        metadata={"description": "The ledger row (null when a stocktake found no difference)"},
    )
    stock = ma.fields.Nested(StockItemSchema, required=True)
    staff = ma.fields.Nested(StaffRefSchema, required=True)


StockPageSchema = page_schema(StockItemSchema, "StockPage")
MovementPageSchema = page_schema(MovementSchema, "MovementPage")
