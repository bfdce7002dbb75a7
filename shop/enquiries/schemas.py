"""Treatment enquiries: the customer's request, and staff's view."""

from __future__ import annotations

import marshmallow as ma

from shop.admin.schemas import AdminListArgsSchema, UtcDateTime
from shop.enquiries.models import ENQUIRY_STATUSES
from shop.schemas import not_blank, page_schema

Length = ma.validate.Length


class EnquiryCreateSchema(ma.Schema):
    name = ma.fields.String(required=True, validate=[Length(min=1, max=200), not_blank])
    email = ma.fields.Email(required=True, validate=Length(max=254))
    phone = ma.fields.String(validate=ma.validate.Regexp(
        r"^[0-9+() -]{0,40}$", error="Digits, spaces, +, - and brackets only."))
    preferred_times = ma.fields.String(validate=Length(max=500), metadata={
        "description": "When suits them, in their words (e.g. weekday evenings)"})
    message = ma.fields.String(validate=Length(max=2000))


class EnquiryAcceptedSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    detail = ma.fields.String(required=True)


class EnquirySchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    treatment_name = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
    email = ma.fields.String(required=True)
    phone = ma.fields.String()
    preferred_times = ma.fields.String()
    message = ma.fields.String()
    status = ma.fields.String(required=True, metadata={"description": "new | contacted | closed"})
    handled_by_id = ma.fields.Integer(allow_none=True)
    created_at = UtcDateTime(required=True)
    updated_at = UtcDateTime(required=True)


EnquiryPageSchema = page_schema(EnquirySchema, "EnquiryPage")


class EnquiryQuerySchema(AdminListArgsSchema):
    status = ma.fields.String(validate=ma.validate.OneOf(ENQUIRY_STATUSES))


class EnquiryUpdateSchema(ma.Schema):
    status = ma.fields.String(required=True, validate=ma.validate.OneOf(ENQUIRY_STATUSES))
