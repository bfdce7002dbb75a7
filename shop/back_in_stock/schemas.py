"""Back-in-stock request and answer."""

from __future__ import annotations

import marshmallow as ma

Length = ma.validate.Length


class BackInStockRequestSchema(ma.Schema):
    sku = ma.fields.String(required=True, validate=Length(min=1, max=64))
    email = ma.fields.Email(required=True, validate=Length(max=254), metadata={
        "description": "Where to write when it is back (the app can fill in the account's)"})


class BackInStockAcceptedSchema(ma.Schema):
    detail = ma.fields.String(required=True)
    sku = ma.fields.String(required=True)


class WaitingSchema(ma.Schema):
    sku = ma.fields.String(attribute="variant.sku", required=True)
    product = ma.fields.String(attribute="variant.product.name", required=True)
    product_slug = ma.fields.String(attribute="variant.product.slug", required=True)
    variant = ma.fields.String(attribute="variant.name", required=True)
    email = ma.fields.String(required=True)
    created_at = ma.fields.DateTime(required=True)


class WaitingListSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(WaitingSchema), required=True)
