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
