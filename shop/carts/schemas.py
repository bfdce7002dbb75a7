"""Cart request and response schemas. Every amount is computed on read, never stored."""

import marshmallow as ma

from shop.carts.pricing import Vat
from shop.catalogue.models import AVAILABLE_DISPLAY_CAP
from shop.schemas import HandDumpedSchema, iso_datetime, money_field
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


def displayed_available(line) -> int:
    return max(min(line.available, AVAILABLE_DISPLAY_CAP), 0)


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
        return displayed_available(priced.line)


class CartShippingSchema(ma.Schema):
    code = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
    price = money_field(required=True)
    vat = ma.fields.Nested(VatSchema, required=True)


class DiscountSchema(ma.Schema):
    code = ma.fields.String(required=True)
    description = ma.fields.String(required=True)
    amount = money_field(required=True)


class CartPromotionSchema(ma.Schema):
    code = ma.fields.String(required=True)
    description = ma.fields.String(required=True)
    applies = ma.fields.Boolean(required=True, metadata={
        "description": "Whether it takes something off now (the discount is in `discounts`)"})
    reason = ma.fields.String(allow_none=True, metadata={
        "description": "Why not: disabled | not_started | expired | used_up | "
                       "minimum_not_reached | no_eligible_items | wrong_currency"})


class CartTotalsSchema(ma.Schema):
    subtotal = money_field(required=True)
    shipping = money_field(required=True)
    discount = money_field(required=True)
    vat = money_field(required=True, metadata={"description": "VAT included in the total"})
    total = money_field(required=True)


class CartSchema(HandDumpedSchema):
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
    promotion = ma.fields.Nested(
        CartPromotionSchema, allow_none=True,
        metadata={"description": "The promotion code applied, and whether it applies now"},
    )
    totals = ma.fields.Nested(CartTotalsSchema, required=True)
    vat_breakdown = ma.fields.List(ma.fields.Nested(VatSchema), required=True)
    purchasable = ma.fields.Boolean(required=True)
    vouchers = ma.fields.Nested(
        voucher_schemas.CartVouchersSchema, required=True,
        metadata={"description": "Money vouchers applied, what they pay and the amount due"},
    )
    created_at = ma.fields.DateTime(required=True)
    updated_at = ma.fields.DateTime(required=True)

    def document(self, view) -> dict:
        return cart_document(view)


def _vat(vat: Vat) -> dict:
    return {"rate": vat.rate, "amount": vat.amount.as_dict()}


def _line(priced) -> dict:
    line = priced.line
    return {
        "id": line.item_id, "sku": line.sku, "kind": line.kind, "name": line.name,
        "product": {"slug": line.product_slug, "name": line.product_name,
                    "variant": line.variant_name, "image_url": line.image_url},
        "quantity": line.quantity,
        "available": displayed_available(line),
        "unit_price": line.unit_price.as_dict(), "line_total": priced.line_total.as_dict(),
        "vat": _vat(priced.vat), "problems": list(priced.problems),
    }


def _vouchers(summary: dict) -> dict:
    return {
        "applied": [{"code_last4": row["code_last4"], "balance": row["balance"].as_dict(),
                     "applies": row["applies"].as_dict(), "usable": row["usable"]}
                    for row in summary["applied"]],
        "covered": summary["covered"].as_dict(), "amount_due": summary["amount_due"].as_dict(),
    }


def cart_document(view) -> dict:
    """A cart view (carts.services.CartView) as CartSchema documents it: marshmallow's walk
    over its fields was 14% of adding an item to a cart."""
    cart, priced, shipping = view.cart, view.pricing, view.shipping
    return {
        "id": cart.id, "status": cart.status, "currency": priced.currency,
        "items": [_line(line) for line in priced.lines],
        "requires_shipping": priced.requires_shipping,
        "shipping": shipping and {"code": shipping["code"], "name": shipping["name"],
                                  "price": shipping["price"].as_dict(),
                                  "vat": _vat(shipping["vat"])},
        "discounts": [{"code": d.code, "description": d.description, "amount": d.amount.as_dict()}
                      for d in priced.discounts],
        "promotion": priced.promotion and {
            "code": priced.promotion.code, "description": priced.promotion.description,
            "applies": priced.promotion.applies, "reason": priced.promotion.reason},
        "totals": {"subtotal": priced.subtotal.as_dict(), "shipping": priced.shipping.as_dict(),
                   "discount": priced.discount.as_dict(), "vat": priced.vat.as_dict(),
                   "total": priced.total.as_dict()},
        "vat_breakdown": [_vat(vat) for vat in priced.vat_breakdown],
        "purchasable": priced.purchasable,
        "vouchers": _vouchers(view.vouchers),
        "created_at": iso_datetime(cart.created_at), "updated_at": iso_datetime(cart.updated_at),
    }


REORDER_REASONS = ("unavailable", "out_of_stock", "insufficient_stock",
                   "quantity_limit_exceeded", "cart_full", "gift_voucher")


class ReorderedLineSchema(ma.Schema):
    sku = ma.fields.String(required=True)
    quantity = ma.fields.Integer(required=True)


class ReorderSkippedSchema(ma.Schema):
    sku = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
    quantity = ma.fields.Integer(required=True, metadata={"description": "How many were not added"})
    reason = ma.fields.String(required=True, metadata={"description": " | ".join(REORDER_REASONS)})


class ReorderSchema(ma.Schema):
    cart = ma.fields.Nested(CartSchema, required=True)
    added = ma.fields.List(ma.fields.Nested(ReorderedLineSchema), required=True)
    skipped = ma.fields.List(ma.fields.Nested(ReorderSkippedSchema), required=True)
