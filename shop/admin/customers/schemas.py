"""Staff's view of customer accounts."""

from __future__ import annotations

import marshmallow as ma

from shop.accounts.schemas import AddressSchema
from shop.admin.orders.schemas import OrderSummarySchema
from shop.admin.schemas import AdminListArgsSchema, UtcDateTime
from shop.schemas import money_field, page_schema


class CustomerSchema(ma.Schema):
    id = ma.fields.Integer(attribute="user.id", required=True)
    email = ma.fields.String(attribute="user.email", required=True)
    name = ma.fields.String(attribute="user.name", required=True)
    email_verified = ma.fields.Function(lambda row: row["user"].email_verified_at is not None,
                                        required=True, metadata={"type": "boolean"})
    marketing_consent = ma.fields.Boolean(attribute="user.marketing_consent", required=True)
    marketing_consent_at = UtcDateTime(attribute="user.marketing_consent_at", allow_none=True)
    created_at = UtcDateTime(attribute="user.created_at", required=True)
    last_login_at = UtcDateTime(attribute="user.last_login_at", allow_none=True)
    disabled = ma.fields.Function(lambda row: row["user"].disabled_at is not None,
                                  required=True)
    two_factor_enabled = ma.fields.Boolean(attribute="user.two_factor_enabled", required=True,
                                           metadata={"description": "Signs in with a code too"})
    deleted = ma.fields.Function(lambda row: row["user"].deleted_at is not None, required=True)
    orders = ma.fields.Integer(required=True, metadata={"description": "Paid orders"})
    spent = money_field(required=True, metadata={
        "description": "What their paid orders came to (before any refund)"})


class CustomerDetailSchema(CustomerSchema):
    addresses = ma.fields.List(ma.fields.Nested(AddressSchema), attribute="user.addresses")
    recent_orders = ma.fields.List(ma.fields.Nested(OrderSummarySchema), required=True,
                                   metadata={"description": "The latest ten, newest first"})


CustomerPageSchema = page_schema(CustomerSchema, "CustomerPage")


class CustomerQuerySchema(AdminListArgsSchema):
    q = ma.fields.String(validate=ma.validate.Length(min=1, max=200), metadata={
        "description": "Part of the email address or name (case-insensitive)"})
    marketing_consent = ma.fields.Boolean(metadata={
        "description": "true: those who agreed to marketing email (e.g. format=csv for a "
                       "mailing list, with email_verified=true)"})
    email_verified = ma.fields.Boolean(metadata={
        "description": "true: those who proved their address (anyone can register anyone's)"})


class CustomerUpdateSchema(ma.Schema):
    disabled = ma.fields.Boolean(metadata={
        "description": "true signs them out everywhere and stops them signing in"})
    two_factor = ma.fields.Boolean(
        validate=ma.validate.Equal(False, error="Only the account's owner can turn it on."),
        metadata={"description": "false: turn two-factor sign-in off for a customer who lost "
                                 "their app and recovery codes, once the clinic has checked who "
                                 "they are (they are signed out, told, and may enrol again)"})

    @ma.validates_schema
    def check_something_changes(self, data: dict, **_: object) -> None:
        if not data:
            raise ma.ValidationError("Give disabled or two_factor.", "_schema")
