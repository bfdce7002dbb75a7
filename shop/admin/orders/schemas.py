"""Order admin requests and responses."""

from __future__ import annotations

import marshmallow as ma

from shop.admin.schemas import (
    AdminListArgsSchema,
    DateRangeArgsSchema,
    StaffRefSchema,
    UtcDateTime,
    refund_method_field,
)
from shop.admin.stock.schemas import MovementSchema
from shop.orders.models import ORDER_STATUSES
from shop.orders.schemas import (
    CreditNoteVatSchema,
    OrderLineSchema,
    OrderShippingSchema,
    OrderTotalsSchema,
    OrderVatSchema,
)
from shop.returns.schemas import ReturnSchema
from shop.schemas import money_field, not_blank, page_schema


class OrderQuerySchema(AdminListArgsSchema, DateRangeArgsSchema):
    status = ma.fields.String(validate=ma.validate.OneOf(ORDER_STATUSES))
    email = ma.fields.String(validate=ma.validate.Length(min=1, max=254),
                             metadata={"description": "Part of the customer's e-mail"})
    number = ma.fields.String(validate=ma.validate.Length(min=1, max=32),
                              metadata={"description": "The order number, e.g. GLW-10042"})
    needs_attention = ma.fields.Boolean()


class OrderSummarySchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    number = ma.fields.String(required=True)
    status = ma.fields.String(required=True)
    email = ma.fields.String(required=True)
    total = money_field(attribute="totals.total", required=True)
    amount_due = money_field(attribute="totals.amount_due", required=True)
    items = ma.fields.Function(lambda order: sum(line.quantity for line in order.lines))
    shipping_method = ma.fields.String(allow_none=True)
    needs_attention = ma.fields.Boolean()
    attention_reason = ma.fields.String(allow_none=True)
    created_at = UtcDateTime(required=True)
    paid_at = UtcDateTime(allow_none=True)


class AdminOrderLineSchema(OrderLineSchema):
    variant_id = ma.fields.Integer(allow_none=True)
    refunded_quantity = ma.fields.Integer(required=True)


class PaymentRefundSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    stripe_refund_id = ma.fields.String(allow_none=True)
    amount = ma.fields.Integer(required=True, metadata={"description": "Minor units"})
    status = ma.fields.String(required=True)
    reason = ma.fields.String()
    created_at = UtcDateTime()
    failed_at = UtcDateTime(allow_none=True, metadata={
        "description": "When the bank sent it back (null if it never counted or still does)"})


class PaymentSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    attempt = ma.fields.Integer()
    flow = ma.fields.String()
    status = ma.fields.String(required=True)
    amount = ma.fields.Integer(required=True, metadata={"description": "Minor units"})
    currency = ma.fields.String()
    payment_intent_id = ma.fields.String(allow_none=True)
    checkout_session_id = ma.fields.String(allow_none=True)
    last_error = ma.fields.String(allow_none=True)
    created_at = UtcDateTime()
    refunds = ma.fields.List(ma.fields.Nested(PaymentRefundSchema))


class RefundLineSchema(ma.Schema):
    line_id = ma.fields.Integer(required=True)
    sku = ma.fields.String(allow_none=True)
    quantity = ma.fields.Integer(required=True)
    amount = money_field(required=True)


class StoreCreditVoucherSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    code_last4 = ma.fields.String(required=True)
    recipient_email = ma.fields.String(allow_none=True)


class StaffRefundSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    credit_note = ma.fields.String(required=True, metadata={
        "example": "GLW-10042-R1", "description": "Its number on the customer's receipt"})
    status = ma.fields.String(required=True, metadata={
        "description": "refunded | card_refund_failed (the bank sent the card part back: "
        "refund it again, by the card or as store credit)"})
    amount = money_field(required=True)
    card_amount = money_field(required=True)
    voucher_amount = money_field(required=True)
    store_credit_amount = money_field(required=True, metadata={
        "description": "Given as a new gift voucher (`method: store_credit`)"})
    store_credit_voucher = ma.fields.Nested(StoreCreditVoucherSchema, allow_none=True, metadata={
        "description": "That voucher (its code went to the customer only)"})
    vat = money_field(required=True, metadata={
        "description": "The VAT it takes back (none for a card part the bank sent back)"})
    vat_by_rate = ma.fields.List(ma.fields.Nested(CreditNoteVatSchema), required=True, metadata={
        "description": "Paid back (net of VAT) and VAT taken back at each rate, highest first"})
    restock = ma.fields.Boolean(required=True)
    reason = ma.fields.String(required=True)
    staff = ma.fields.Nested(StaffRefSchema, allow_none=True)
    lines = ma.fields.List(ma.fields.Nested(RefundLineSchema))
    created_at = UtcDateTime(required=True)


class VoucherUseSchema(ma.Schema):
    voucher = ma.fields.String(required=True, metadata={"description": "Last four of the code"})
    kind = ma.fields.String(required=True, metadata={
        "description": "hold | debit | release | refund_credit ..."})
    amount = money_field(required=True, metadata={"description": "Change to the balance"})
    held_change = money_field(required=True)
    note = ma.fields.String()
    created_at = UtcDateTime(required=True)


class TimelineEventSchema(ma.Schema):
    type = ma.fields.String(required=True)
    data = ma.fields.Dict()
    created_at = UtcDateTime(required=True)


class OrderNoteSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    text = ma.fields.String(required=True)
    staff = ma.fields.Nested(StaffRefSchema, allow_none=True)
    created_at = UtcDateTime(required=True)


class NewOrderNoteSchema(ma.Schema):
    text = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=2000))

    @ma.post_load
    def strip(self, data: dict, **_: object) -> dict:
        data["text"] = data["text"].strip()
        if not data["text"]:
            raise ma.ValidationError("Write something.", "text")
        return data


class ResolveAttentionSchema(ma.Schema):
    note = ma.fields.String(required=True, validate=[ma.validate.Length(min=3, max=2000),
                                                     not_blank],
                            metadata={"description": "What was done (timeline and audit log)"})


class OrderDetailSchema(ma.Schema):
    """GET /admin/orders/{id}: the order and everything that happened to it."""

    id = ma.fields.Integer(attribute="order.id", required=True)
    number = ma.fields.String(attribute="order.number", required=True)
    status = ma.fields.String(attribute="order.status", required=True)
    email = ma.fields.String(attribute="order.email", required=True)
    user_id = ma.fields.Integer(attribute="order.user_id", allow_none=True)
    needs_attention = ma.fields.Boolean(attribute="order.needs_attention")
    attention_reason = ma.fields.String(attribute="order.attention_reason", allow_none=True)
    lines = ma.fields.Method("dump_lines")
    discount_code = ma.fields.String(attribute="order.discount_code", allow_none=True)
    totals = ma.fields.Nested(OrderTotalsSchema, attribute="order.totals", required=True)
    vat = ma.fields.List(ma.fields.Nested(OrderVatSchema), attribute="order.vat")
    shipping = ma.fields.Nested(OrderShippingSchema, attribute="order.shipping")
    payment_reference = ma.fields.String(attribute="order.payment_reference", allow_none=True)
    created_at = UtcDateTime(attribute="order.created_at", required=True)
    paid_at = UtcDateTime(attribute="order.paid_at", allow_none=True)
    cancelled_at = UtcDateTime(attribute="order.cancelled_at", allow_none=True)
    cancel_reason = ma.fields.String(attribute="order.cancel_reason", allow_none=True)
    refunded = money_field(required=True)
    refundable = money_field(required=True)
    payments = ma.fields.List(ma.fields.Nested(PaymentSchema))
    refunds = ma.fields.List(ma.fields.Nested(StaffRefundSchema))
    vouchers = ma.fields.List(ma.fields.Nested(VoucherUseSchema), metadata={
        "description": "Gift vouchers paying for the order: held, debited, credited back"})
    stock_movements = ma.fields.List(ma.fields.Nested(MovementSchema))
    returns = ma.fields.List(ma.fields.Nested(ReturnSchema), metadata={
        "description": "Returns the customer asked for (GET /admin/returns/{id} for one)"})
    events = ma.fields.List(ma.fields.Nested(TimelineEventSchema))
    notes = ma.fields.List(ma.fields.Nested(OrderNoteSchema), metadata={
        "description": "Staff notes, oldest first; never shown to the customer"})

    def dump_lines(self, detail: dict) -> list[dict]:
        return [{**OrderLineSchema().dump(item["line"]), "variant_id": item["line"].variant_id,
                 "refunded_quantity": item["refunded_quantity"]} for item in detail["lines"]]


class FulfilSchema(ma.Schema):
    """Dispatched: `carrier` and `tracking_number`. Collected at the clinic: `collected`."""

    carrier = ma.fields.String(validate=ma.validate.Length(min=1, max=60))
    tracking_number = ma.fields.String(validate=ma.validate.Length(min=1, max=100))
    collected = ma.fields.Boolean()

    @ma.validates_schema
    def one_way(self, data: dict, **_: object) -> None:
        if data.get("collected"):
            if "carrier" in data or "tracking_number" in data:
                raise ma.ValidationError("A collected order has no carrier.", "collected")
            return
        for field in ("carrier", "tracking_number"):
            if field not in data:
                raise ma.ValidationError("Required unless `collected` is true.", field)


class CancelSchema(ma.Schema):
    reason = ma.fields.String(load_default="", validate=ma.validate.Length(max=255))


class RefundLineRequestSchema(ma.Schema):
    line_id = ma.fields.Integer(required=True, strict=True)
    quantity = ma.fields.Integer(required=True, strict=True, validate=ma.validate.Range(min=1))


class RefundRequestSchema(ma.Schema):
    """`lines` (what is refunded, at the price paid) or an `amount`; never both."""

    lines = ma.fields.List(ma.fields.Nested(RefundLineRequestSchema),
                           validate=ma.validate.Length(min=1, max=200))
    amount = money_field()
    restock = ma.fields.Boolean(load_default=False,
                                metadata={"description": "Put the refunded lines back in stock"})
    reason = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=255))
    method = refund_method_field()

    @ma.validates_schema
    def lines_or_amount(self, data: dict, **_: object) -> None:
        if ("lines" in data) == ("amount" in data):
            raise ma.ValidationError("Send either `lines` or `amount`.", "lines")
        if data.get("restock") and "lines" not in data:
            raise ma.ValidationError("Restocking needs the refunded `lines`.", "restock")
        if "amount" in data and data["amount"].amount <= 0:
            raise ma.ValidationError("Must be greater than zero.", "amount")


class RefundResultSchema(StaffRefundSchema):
    order = ma.fields.Nested(OrderSummarySchema, required=True)


OrderSummaryPageSchema = page_schema(OrderSummarySchema, "AdminOrderPage")
