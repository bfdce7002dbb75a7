"""The wishlist as the app shows it: saved products as the catalogue lists them. Like the
catalogue's lists, the items are built as plain JSON (services._entries) and these schemas
document them."""

from __future__ import annotations

import marshmallow as ma

from shop.catalogue.schemas import ProductSummarySchema
from shop.schemas import money_field, page_schema


class WishlistProductSchema(ProductSummarySchema):
    price = money_field(required=True, allow_none=True, metadata={
        "description": "The price of its cheapest variant on sale (null when none is)"})
    price_is_from = ma.fields.Boolean(required=True, metadata={
        "description": "true when its variants on sale cost different amounts: show "
                       "\"from\" the price"})
    in_stock = ma.fields.Boolean(required=True, metadata={
        "description": "It can be bought now: on sale, with a variant on sale in stock"})


class WishlistItemSchema(ma.Schema):
    product = ma.fields.Nested(WishlistProductSchema, required=True)
    saved_at = ma.fields.DateTime(required=True)
    available = ma.fields.Boolean(required=True, metadata={
        "description": "false when the product is no longer sold (unpublished or archived): "
                       "it stays on the wishlist, flagged"})


WishlistPageSchema = page_schema(WishlistItemSchema, "WishlistPage")
