"""Cart request and response schemas. Every amount is computed on read, never stored."""

import marshmallow as ma

from shop.catalogue.models import AVAILABLE_DISPLAY_CAP
from shop.schemas import money_field
from shop.vouchers import schemas as voucher_schemas


class CartQuerySchema(ma.Schema):
    shipping_method = ma.fields.String(
        validate=ma.validate.Length(max=40),
        metadata={"description": "Price shipping with this method (default uk-standard)"},
    )


class CartItemCreateSchema(ma.Schema):
    sku = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=64))
    quantity = ma.fields.Integer(
        load_default=1, strict=True, validate=ma.validate.Range(min=1, max=1000)
    )
    voucher = ma.fields.Nested(
        voucher_schemas.VoucherDetailsSchema,
        metadata={"description": "Gift vouchers: who it is for and when to send it"},
    )
    amount = money_field(metadata={"description": "The custom-amount gift voucher's value"})


class CartItemUpdateSchema(ma.Schema):
    quantity = ma.fields.Integer(
        required=True, strict=True, validate=ma.validate.Range(min=1, max=1000),
        metadata={"description": "The new quantity; DELETE the item to remove it"},
    )


class VatSchema(ma.Schema):
    rate = ma.fields.Integer(required=True, metadata={"description": "Percent, e.g. 20"})
    amount = money_field(required=True, metadata={"description": "VAT included in the price"})


class CartProductSchema(ma.Schema):
    slug = ma.fields.String(required=True, attribute="product_slug")
    name = ma.fields.String(required=True, attribute="product_name")
    variant = ma.fields.String(required=True, attribute="variant_name")
    image_url = ma.fields.String(allow_none=True)


class CartLineSchema(ma.Schema):
    id = ma.fields.Integer(required=True, attribute="line.item_id")
    sku = ma.fields.String(required=True, attribute="line.sku")
    kind = ma.fields.String(required=True, attribute="line.kind")
    name = ma.fields.String(required=True, attribute="line.name")
    product = ma.fields.Nested(CartProductSchema, required=True, attribute="line")
    quantity = ma.fields.Integer(required=True, attribute="line.quantity")
    available = ma.fields.Method(
        "_available", metadata={"description": "Units available, capped for display"}
    )
    unit_price = money_field(required=True, attribute="line.unit_price")
    line_total = money_field(required=True)
    vat = ma.fields.Nested(VatSchema, required=True)
    problems = ma.fields.List(
        ma.fields.String(), required=True,
        metadata={"description": "unavailable | out_of_stock | insufficient_stock"},
    )

    def _available(self, priced) -> int:
        return max(min(priced.line.available, AVAILABLE_DISPLAY_CAP), 0)


class CartShippingSchema(ma.Schema):
    code = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
    price = money_field(required=True)
    vat = ma.fields.Nested(VatSchema, required=True)


class DiscountSchema(ma.Schema):
    code = ma.fields.String(required=True)
    description = ma.fields.String(required=True)
    amount = money_field(required=True)


class CartTotalsSchema(ma.Schema):
    subtotal = money_field(required=True)
    shipping = money_field(required=True)
    discount = money_field(required=True)
    vat = money_field(required=True, metadata={"description": "VAT included in the total"})
    total = money_field(required=True)


class CartSchema(ma.Schema):
    id = ma.fields.String(required=True, metadata={"description": "Keep it: it is the cart's key"})
    status = ma.fields.String(
        required=True, metadata={"description": "open | checked_out | merged"}
    )
    currency = ma.fields.String(required=True)
    items = ma.fields.List(ma.fields.Nested(CartLineSchema), required=True)
    requires_shipping = ma.fields.Boolean(required=True)
    shipping = ma.fields.Nested(
        CartShippingSchema, allow_none=True,
        metadata={"description": "The method priced in (null when nothing ships)"},
    )
    discounts = ma.fields.List(ma.fields.Nested(DiscountSchema), required=True)
    totals = ma.fields.Nested(CartTotalsSchema, required=True)
    vat_breakdown = ma.fields.List(ma.fields.Nested(VatSchema), required=True)
    purchasable = ma.fields.Boolean(required=True)
    vouchers = ma.fields.Nested(
        voucher_schemas.CartVouchersSchema, required=True,
        metadata={"description": "Money vouchers applied, what they pay and the amount due"},
    )
    created_at = ma.fields.DateTime(required=True)
    updated_at = ma.fields.DateTime(required=True)
