"""Order schemas: what a customer (or a guest with the order's token) sees."""

import marshmallow as ma
from sqlalchemy.orm import object_session

from shop.checkout.shipping import BY_CODE
from shop.orders import credit_notes, tracking
from shop.orders.models import Order
from shop.schemas import HandDumpedSchema, PageArgsSchema, iso_datetime, money_field, page_schema
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


class OrderFulfilmentSchema(ma.Schema):
    collection = ma.fields.Boolean(required=True, metadata={
        "description": "Ready to collect at the clinic (no carrier)"})
    carrier = ma.fields.String(allow_none=True)
    tracking_number = ma.fields.String(allow_none=True)
    tracking_url = ma.fields.String(allow_none=True, metadata={
        "description": "The carrier's tracking page, for the carriers the clinic ships with"})
    at = ma.fields.DateTime(required=True, metadata={"description": "Dispatched or ready"})


class OrderEventSchema(ma.Schema):
    type = ma.fields.String(required=True, metadata={"example": "paid"})
    created_at = ma.fields.DateTime(required=True)


class OrderRefundLineSchema(ma.Schema):
    line_id = ma.fields.Integer(required=True)
    sku = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
    quantity = ma.fields.Integer(required=True)
    amount = money_field(required=True, metadata={"description": "What was paid back for it"})


class CreditNoteVatSchema(ma.Schema):
    rate = ma.fields.Integer(required=True, metadata={"description": "Percent, as in `vat`"})
    net = money_field(required=True, metadata={"description": "Paid back at this rate, VAT out"})
    vat = money_field(required=True, metadata={"description": "The VAT taken back at this rate"})


class OrderRefundSchema(ma.Schema):
    credit_note = ma.fields.String(required=True, metadata={
        "example": "GLW-10042-R1", "description": "The credit note's number: the order's "
        "number and the refund's place among the order's refunds"})
    created_at = ma.fields.DateTime(required=True)
    status = ma.fields.String(required=True, metadata={
        "description": "refunded | card_refund_failed (the bank sent the card part back: it "
        "was not paid back, nor its VAT taken back; a gift-voucher part was)"})
    amount = money_field(required=True)
    card_amount = money_field(required=True, metadata={"description": "Back to the card"})
    voucher_amount = money_field(required=True,
                                 metadata={"description": "Back onto the gift vouchers"})
    store_credit_amount = money_field(required=True, metadata={
        "description": "Given as store credit: a new gift voucher, emailed separately"})
    vat = money_field(required=True, metadata={"description": "The VAT it takes back"})
    vat_by_rate = ma.fields.List(ma.fields.Nested(CreditNoteVatSchema), required=True, metadata={
        "description": "What it paid back and the VAT it takes back at each rate, highest "
        "first; the VATs add up to `vat`, each row's net and VAT to what went back at it"})
    lines = ma.fields.List(ma.fields.Nested(OrderRefundLineSchema), required=True, metadata={
        "description": "What it refunded; empty for a refund of an amount"})


ADDRESS_FIELDS = tuple(OrderAddressSchema._declared_fields)


def _money(amount: int, currency: str) -> dict:
    return {"amount": amount, "currency": currency}


def _address(address: dict | None) -> dict | None:
    if address is None:
        return None
    return {name: address[name] for name in ADDRESS_FIELDS if name in address}


def vat_by_rate(note: credit_notes.CreditNote) -> list[dict]:
    return [{"rate": part.rate, "net": part.net.as_dict(), "vat": part.vat.as_dict()}
            for part in note.vat_by_rate]


def _refund(note: credit_notes.CreditNote) -> dict:
    return {
        "credit_note": note.credit_note, "created_at": iso_datetime(note.created_at),
        "status": note.status, "amount": note.amount.as_dict(),
        "card_amount": note.card_amount.as_dict(),
        "voucher_amount": note.voucher_amount.as_dict(),
        "store_credit_amount": note.store_credit_amount.as_dict(), "vat": note.vat.as_dict(),
        "vat_by_rate": vat_by_rate(note),
        "lines": [{"line_id": line.line_id, "sku": line.sku, "name": line.name,
                   "quantity": line.quantity, "amount": line.amount.as_dict()}
                  for line in note.lines],
    }


def _fulfilment(order: Order) -> dict | None:
    done = tracking.fulfilment(order)
    return None if done is None else {**done, "at": iso_datetime(done["at"])}


def order_document(order: Order, vouchers: list[dict],
                   refunds: list[credit_notes.CreditNote]) -> dict:
    """An order as OrderSchema documents it: marshmallow's walk over its fields (eleven
    nested Money schemas, three lists) was 9% of a checkout's instructions."""
    currency = order.currency
    method = BY_CODE.get(order.shipping_method or "")
    return {
        "id": order.id, "number": order.number, "status": order.status, "email": order.email,
        "lines": [
            {
                "id": line.id, "kind": line.kind, "sku": line.sku, "name": line.name,
                "quantity": line.quantity,
                "unit_price": _money(line.unit_price_amount, currency),
                "line_total": _money(line.line_total_amount, currency),
                "vat": {"rate": line.vat_rate, "amount": _money(line.vat_amount, currency)},
            }
            for line in order.lines
        ],
        "discount_code": order.discount_code,
        "totals": {
            "subtotal": _money(order.subtotal_amount, currency),
            "shipping": _money(order.shipping_amount, currency),
            "discount": _money(order.discount_amount, currency),
            "vat": _money(order.vat_amount, currency),
            "total": _money(order.total_amount, currency),
            "amount_due": _money(order.amount_due, currency),
        },
        "vat": [{"rate": row["rate"], "amount": _money(row["amount"], currency)}
                for row in order.vat_breakdown],
        "shipping": {
            "method": order.shipping_method, "name": method.name if method else None,
            "price": _money(order.shipping_amount, currency),
            "address": _address(order.shipping_address),
        },
        "reservation_expires_at": iso_datetime(order.reservation_expires_at),
        "created_at": iso_datetime(order.created_at),
        "paid_at": iso_datetime(order.paid_at),
        "cancel_reason": order.cancel_reason,
        "fulfilment": _fulfilment(order),
        "refunds": [_refund(note) for note in refunds],
        "events": [{"type": event.type, "created_at": iso_datetime(event.created_at)}
                   for event in order.events],
        "vouchers": vouchers,
    }


class OrderSchema(HandDumpedSchema):
    id = ma.fields.Integer(required=True)
    number = ma.fields.String(required=True, metadata={"example": "GLW-10042"})
    status = ma.fields.String(
        required=True,
        metadata={"description": "pending_payment | paid | fulfilled | completed | cancelled"},
    )
    email = ma.fields.String(required=True)
    lines = ma.fields.List(ma.fields.Nested(OrderLineSchema), required=True)
    discount_code = ma.fields.String(allow_none=True, metadata={
        "description": "The promotion code whose discount is in totals.discount"})
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
    fulfilment = ma.fields.Nested(OrderFulfilmentSchema, allow_none=True, metadata={
        "description": "How the order left: the carrier and tracking number (and the "
        "carrier's tracking page), or ready to collect; null until then"})
    refunds = ma.fields.List(ma.fields.Nested(OrderRefundSchema), required=True, metadata={
        "description": "The clinic's refunds, oldest first, each a credit note against the "
        "VAT receipt"})
    events = ma.fields.List(ma.fields.Nested(OrderEventSchema), required=True)
    vouchers = ma.fields.Method(
        "_vouchers",
        metadata={"description": "Gift vouchers this order bought, with their full codes (issued "
                  "once paid): code, kind, treatment, value, balance, status, expires_at...",
                  "type": "array", "items": {"type": "object"}},
    )

    def _vouchers(self, order) -> list[dict]:
        return voucher_purchases.order_view(session=object_session(order), order=order)

    def get_attribute(self, obj, attr, default):
        if attr == "refunds":  # (marshmallow's own dump: the parity test and `only`/`exclude`)
            return credit_notes.for_order(session=object_session(obj), order=obj)
        if attr == "fulfilment":
            return tracking.fulfilment(obj)
        return super().get_attribute(obj, attr, default)

    def document(self, order: Order) -> dict:
        return order_document(order, self._vouchers(order),
                              credit_notes.for_order(session=object_session(order), order=order))


class OrderQuerySchema(ma.Schema):
    access_token = ma.fields.String(
        validate=ma.validate.Length(max=200),
        metadata={"description": "A guest's order token (or send the X-Order-Token header)"},
    )


class OrderLookupSchema(ma.Schema):
    email = ma.fields.Email(required=True, validate=ma.validate.Length(max=254))
    number = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=32),
                              metadata={"example": "GLW-10042"})


class OrderLookupAnswerSchema(ma.Schema):
    detail = ma.fields.String(required=True)


OrderListArgsSchema = PageArgsSchema
OrderPageSchema = page_schema(OrderSchema, "OrderPage")
