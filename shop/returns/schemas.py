"""Returns: the customer's request, and what customers and staff see of one."""

from __future__ import annotations

import marshmallow as ma

from shop.admin.schemas import AdminListArgsSchema, UtcDateTime, refund_method_field
from shop.returns.models import RETURN_REASONS, RETURN_STATUSES
from shop.schemas import money_field, not_blank, page_schema

Length = ma.validate.Length


class ReturnLineRequestSchema(ma.Schema):
    line_id = ma.fields.Integer(required=True, strict=True)
    quantity = ma.fields.Integer(required=True, strict=True, validate=ma.validate.Range(min=1))


class ReturnRequestSchema(ma.Schema):
    lines = ma.fields.List(ma.fields.Nested(ReturnLineRequestSchema), required=True,
                           validate=Length(min=1, max=200))
    reason = ma.fields.String(required=True, validate=ma.validate.OneOf(RETURN_REASONS))
    note = ma.fields.String(validate=Length(max=1000), metadata={
        "description": "Anything the clinic should know, in the customer's words"})


class ReturnLineSchema(ma.Schema):
    line_id = ma.fields.Integer(required=True, attribute="order_line_id")
    sku = ma.fields.Function(lambda line: line.order_line.sku, required=True)
    name = ma.fields.Function(lambda line: line.order_line.name, required=True)
    quantity = ma.fields.Integer(required=True)


class ReturnSchema(ma.Schema):
    id = ma.fields.Integer(required=True, metadata={"description": "The return number"})
    order_id = ma.fields.Integer(required=True)
    order_number = ma.fields.Function(lambda returned: returned.order.number, required=True)
    status = ma.fields.String(required=True, metadata={
        "description": "requested | received | refunded | rejected | withdrawn"})
    reason = ma.fields.String(required=True)
    note = ma.fields.String(required=True)
    staff_note = ma.fields.String(required=True, metadata={
        "description": "The clinic's word on it, e.g. why it was rejected"})
    lines = ma.fields.List(ma.fields.Nested(ReturnLineSchema), required=True)
    estimated_refund = money_field(required=True, metadata={
        "description": "What the lines come to at the price paid (after any discount)"})
    refunded = money_field(required=True, allow_none=True, metadata={
        "description": "What its refund paid back, once it was refunded (without a card part "
                       "the bank sent back)"})
    card_refund_failed = ma.fields.Boolean(required=True, metadata={
        "description": "The bank sent the card part of the refund back: the clinic has been "
                       "told and will refund it another way"})
    created_at = UtcDateTime(required=True)
    received_at = UtcDateTime(required=True, allow_none=True)
    closed_at = UtcDateTime(required=True, allow_none=True)


class StaffReturnSchema(ReturnSchema):
    email = ma.fields.Function(lambda returned: returned.order.email, required=True)
    handled_by_id = ma.fields.Integer(required=True, allow_none=True)
    refund_id = ma.fields.Integer(required=True, allow_none=True)


class ReturnableLineSchema(ma.Schema):
    line_id = ma.fields.Integer(required=True)
    sku = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
    quantity = ma.fields.Integer(required=True, metadata={"description": "Units still returnable"})


class ReturnOverviewSchema(ma.Schema):
    return_by = UtcDateTime(required=True, allow_none=True, metadata={
        "description": "When the return window ends (null until the order is dispatched)"})
    returnable = ma.fields.List(ma.fields.Nested(ReturnableLineSchema), required=True)
    items = ma.fields.List(ma.fields.Nested(ReturnSchema), required=True)


StaffReturnPageSchema = page_schema(StaffReturnSchema, "StaffReturnPage")


class ReturnQuerySchema(AdminListArgsSchema):
    status = ma.fields.String(validate=ma.validate.OneOf(RETURN_STATUSES))
    order_id = ma.fields.Integer(validate=ma.validate.Range(min=1))


class ReceiveSchema(ma.Schema):
    note = ma.fields.String(validate=Length(max=500), metadata={
        "description": "e.g. the state the items arrived in"})


class RejectSchema(ma.Schema):
    reason = ma.fields.String(required=True, validate=[Length(min=1, max=500), not_blank],
                           metadata={"description": "Told to the customer"})


class ReturnRefundSchema(ma.Schema):
    restock = ma.fields.Boolean(load_default=False, metadata={
        "description": "Put the returned items back on the shelf (unopened, sellable)"})
    method = refund_method_field()
