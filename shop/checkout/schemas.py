"""Checkout request and response schemas, and the shipping-method listing."""

import marshmallow as ma

from shop.accounts.addresses import normalise_postcode
from shop.errors import ValidationFailed
from shop.orders.schemas import OrderSchema
from shop.schemas import money_field

PAYMENT_FLOWS = ("payment_intent", "hosted")


class ShippingAddressSchema(ma.Schema):
    """A UK delivery address (we ship within Great Britain and Northern Ireland)."""

    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=200))
    line1 = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=200))
    line2 = ma.fields.String(load_default="", validate=ma.validate.Length(max=200))
    city = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=100))
    county = ma.fields.String(load_default="", validate=ma.validate.Length(max=100))
    postcode = ma.fields.String(
        required=True, validate=ma.validate.Length(min=5, max=10), metadata={"example": "SW1A 1AA"}
    )
    country = ma.fields.String(
        load_default="GB", validate=ma.validate.OneOf(["GB"], error="We deliver in the UK only."),
    )
    phone = ma.fields.String(load_default="", validate=ma.validate.Length(max=30))

    @ma.post_load
    def normalise(self, data: dict, **_: object) -> dict:
        try:
            data["postcode"] = normalise_postcode(data["postcode"], data["country"])
        except ValidationFailed as exc:
            raise ma.ValidationError(exc.errors["postcode"], "postcode") from exc
        return data


class CheckoutSchema(ma.Schema):
    email = ma.fields.Email(
        validate=ma.validate.Length(max=254),
        metadata={"description": "Required for guests; customers default to their account's"},
    )
    shipping_method = ma.fields.String(
        validate=ma.validate.Length(max=40),
        metadata={"description": "A code from GET /shipping-methods; not needed if nothing ships"},
    )
    shipping_address = ma.fields.Nested(ShippingAddressSchema, allow_none=True)
    payment_flow = ma.fields.String(load_default="payment_intent",
                                    validate=ma.validate.OneOf(PAYMENT_FLOWS))
    success_url = ma.fields.Url(require_tld=False, validate=ma.validate.Length(max=2000))
    cancel_url = ma.fields.Url(require_tld=False, validate=ma.validate.Length(max=2000))

    @ma.validates_schema
    def hosted_needs_urls(self, data: dict, **_: object) -> None:
        if data.get("payment_flow") == "hosted":
            missing = {
                name: ["Required for the hosted payment page."]
                for name in ("success_url", "cancel_url") if not data.get(name)
            }
            if missing:
                raise ma.ValidationError(missing)


class CheckoutResultSchema(ma.Schema):
    order = ma.fields.Nested(OrderSchema, required=True)
    payment = ma.fields.Dict(
        allow_none=True,
        metadata={"description": "Stripe details for the client (null when nothing is due)"},
    )
    access_token = ma.fields.String(
        allow_none=True,
        metadata={"description": "Guests only: send as ?access_token= or X-Order-Token to "
                                 "GET /api/v1/orders/{id}. Shown once."},
    )


class ShippingMethodSchema(ma.Schema):
    code = ma.fields.String(required=True, metadata={"example": "uk-standard"})
    name = ma.fields.String(required=True)
    description = ma.fields.String(required=True)
    price = money_field(required=True)
    free_from = money_field(
        allow_none=True, metadata={"description": "Free when the goods total at least this"}
    )
    requires_address = ma.fields.Boolean(required=True)


class ShippingMethodListSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(ShippingMethodSchema), required=True)
