"""Order schemas: what a customer (or a guest with the order's token) sees."""

import marshmallow as ma
from sqlalchemy.orm import object_session

from shop.schemas import PageArgsSchema, money_field, page_schema
from shop.vouchers import purchases as voucher_purchases


class OrderVatSchema(ma.Schema):
    rate = ma.fields.Integer(required=True, metadata={"description": "Percent"})
    amount = money_field(required=True)


class OrderLineSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    kind = ma.fields.String(required=True, metadata={"description": "product | voucher"})
    sku = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
    quantity = ma.fields.Integer(required=True)
    unit_price = money_field(required=True)
    line_total = money_field(required=True)
    vat = ma.fields.Nested(OrderVatSchema, required=True)


class OrderTotalsSchema(ma.Schema):
    subtotal = money_field(required=True)
    shipping = money_field(required=True)
    discount = money_field(required=True)
    vat = money_field(required=True, metadata={"description": "VAT included in the total"})
    total = money_field(required=True)
    amount_due = money_field(required=True, metadata={"description": "What the card pays"})


class OrderAddressSchema(ma.Schema):
    name = ma.fields.String()
    line1 = ma.fields.String()
    line2 = ma.fields.String()
    city = ma.fields.String()
    county = ma.fields.String()
    postcode = ma.fields.String()
    country = ma.fields.String()
    phone = ma.fields.String()


class OrderShippingSchema(ma.Schema):
    method = ma.fields.String(allow_none=True, metadata={"description": "null: nothing ships"})
    name = ma.fields.String(allow_none=True)
    price = money_field(required=True)
    address = ma.fields.Nested(OrderAddressSchema, allow_none=True)


class OrderEventSchema(ma.Schema):
    type = ma.fields.String(required=True, metadata={"example": "paid"})
    created_at = ma.fields.DateTime(required=True)


class OrderSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    number = ma.fields.String(required=True, metadata={"example": "GLW-10042"})
    status = ma.fields.String(
        required=True,
        metadata={"description": "pending_payment | paid | fulfilled | completed | cancelled"},
    )
    email = ma.fields.String(required=True)
    lines = ma.fields.List(ma.fields.Nested(OrderLineSchema), required=True)
    totals = ma.fields.Nested(OrderTotalsSchema, required=True)
    vat = ma.fields.List(ma.fields.Nested(OrderVatSchema), required=True,
                         metadata={"description": "VAT included, by rate"})
    shipping = ma.fields.Nested(OrderShippingSchema, required=True)
    reservation_expires_at = ma.fields.DateTime(
        allow_none=True, metadata={"description": "Pay before this or the order is cancelled"}
    )
    created_at = ma.fields.DateTime(required=True)
    paid_at = ma.fields.DateTime(allow_none=True)
    cancel_reason = ma.fields.String(allow_none=True)
    events = ma.fields.List(ma.fields.Nested(OrderEventSchema), required=True)
    vouchers = ma.fields.Method(
        "_vouchers",
        metadata={"description": "Gift vouchers this order bought, with their full codes (issued "
                  "once paid): code, kind, treatment, value, balance, status, expires_at...",
                  "type": "array", "items": {"type": "object"}},
    )

    def _vouchers(self, order) -> list[dict]:
        return voucher_purchases.order_view(session=object_session(order), order=order)


class OrderQuerySchema(ma.Schema):
    access_token = ma.fields.String(
        validate=ma.validate.Length(max=200),
        metadata={"description": "A guest's order token (or send the X-Order-Token header)"},
    )


OrderListArgsSchema = PageArgsSchema
OrderPageSchema = page_schema(OrderSchema, "OrderPage")
