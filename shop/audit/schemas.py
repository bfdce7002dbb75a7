"""Audit log responses and list arguments."""

import marshmallow as ma

from shop.admin.schemas import AdminListArgsSchema, DateRangeArgsSchema, UtcDateTime
from shop.schemas import page_schema


class AuditActorSchema(ma.Schema):
    id = ma.fields.Integer(allow_none=True)
    email = ma.fields.String()
    role = ma.fields.String()


class AuditEntrySchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    created_at = UtcDateTime(required=True)
    actor = ma.fields.Nested(AuditActorSchema, required=True)
    action = ma.fields.String(required=True, metadata={"example": "variant.update"})
    entity = ma.fields.String(required=True, metadata={"example": "variant"})
    entity_id = ma.fields.String(required=True)
    before = ma.fields.Dict(allow_none=True)
    after = ma.fields.Dict(allow_none=True)
    request_id = ma.fields.String(allow_none=True)


class AuditQuerySchema(AdminListArgsSchema, DateRangeArgsSchema):
    actor = ma.fields.String(
        validate=ma.validate.Length(max=254), metadata={"description": "User id or e-mail"}
    )
    action = ma.fields.String(validate=ma.validate.Length(max=64))
    entity = ma.fields.String(validate=ma.validate.Length(max=40))
    entity_id = ma.fields.String(validate=ma.validate.Length(max=120))


AuditPageSchema = page_schema(AuditEntrySchema, "AuditPage")
