"""Catalogue request and response schemas: what the storefront and the app see."""

import marshmallow as ma

from shop.catalogue.models import SKIN_TYPES
from shop.schemas import PageArgsSchema, money_field, page_schema

SORTS = ("price", "-price", "name", "newest", "relevance")


class CategorySchema(ma.Schema):
    slug = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
    description = ma.fields.String()
    position = ma.fields.Integer()


class CategoryRefSchema(ma.Schema):
    slug = ma.fields.String(required=True)
    name = ma.fields.String(required=True)


class ConcernSchema(ma.Schema):
    slug = ma.fields.String(required=True)
    name = ma.fields.String(required=True)


class VariantSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    sku = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
    price = money_field(required=True)
    compare_at_price = money_field(allow_none=True)
    weight_grams = ma.fields.Integer(allow_none=True)
    barcode = ma.fields.String(allow_none=True)
    in_stock = ma.fields.Boolean(required=True)
    available = ma.fields.Integer(
        required=True, metadata={"description": "Units available, capped for display"}
    )


class ProductSummarySchema(ma.Schema):
    slug = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
    category = ma.fields.Nested(CategoryRefSchema, required=True)
    short_description = ma.fields.String()
    skin_types = ma.fields.List(ma.fields.String())
    concerns = ma.fields.List(ma.fields.Pluck(ConcernSchema, "slug"))
    routine_step = ma.fields.String(allow_none=True)
    time_of_use = ma.fields.String(allow_none=True)
    image_urls = ma.fields.List(ma.fields.String())
    variants = ma.fields.List(ma.fields.Nested(VariantSchema))


class ProductSchema(ProductSummarySchema):
    description = ma.fields.String()
    how_to_use = ma.fields.String()
    key_ingredients = ma.fields.List(ma.fields.String())


class TreatmentSchema(ma.Schema):
    slug = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
    description = ma.fields.String()
    duration_minutes = ma.fields.Integer(required=True)
    price = money_field(required=True)
    concerns = ma.fields.List(ma.fields.Pluck(ConcernSchema, "slug"))


class ProductQuerySchema(PageArgsSchema):
    category = ma.fields.String(validate=ma.validate.Length(max=80))
    skin_type = ma.fields.String(validate=ma.validate.OneOf(SKIN_TYPES))
    concern = ma.fields.String(validate=ma.validate.Length(max=80))
    q = ma.fields.String(
        validate=ma.validate.Length(min=1, max=200),
        metadata={"description": (
            "Full-text search over name, descriptions, ingredients and concerns (on "
            "PostgreSQL in websearch syntax: \"quoted phrase\", -word, or). By relevance, "
            "one word ranks every match; several words rank the first 1,000 matches found.")},
    )
    # Bounded by the INTEGER price column: PostgreSQL refuses to compare beyond it (a 500).
    min_price = ma.fields.Integer(validate=ma.validate.Range(min=0, max=2**31 - 1))
    max_price = ma.fields.Integer(validate=ma.validate.Range(min=0, max=2**31 - 1))
    in_stock = ma.fields.Boolean()
    sort = ma.fields.String(
        validate=ma.validate.OneOf(SORTS),
        metadata={"description": "Defaults to relevance when q is given, else name"},
    )

    @ma.validates_schema
    def check_price_range(self, data: dict, **_: object) -> None:
        low, high = data.get("min_price"), data.get("max_price")
        if low is not None and high is not None and low > high:
            raise ma.ValidationError("Must not be above max_price.", "min_price")


class TreatmentQuerySchema(PageArgsSchema):
    concern = ma.fields.String(validate=ma.validate.Length(max=80))


class RoutineQuerySchema(ma.Schema):
    skin_type = ma.fields.String(required=True, validate=ma.validate.OneOf(SKIN_TYPES))
    concern = ma.fields.String(validate=ma.validate.Length(max=80))


class RoutineStepSchema(ma.Schema):
    step = ma.fields.String(required=True)
    product = ma.fields.Nested(ProductSummarySchema, allow_none=True)


class RoutineSchema(ma.Schema):
    skin_type = ma.fields.String(required=True)
    concern = ma.fields.String(allow_none=True)
    am = ma.fields.List(ma.fields.Nested(RoutineStepSchema), required=True)
    pm = ma.fields.List(ma.fields.Nested(RoutineStepSchema), required=True)
    weekly = ma.fields.List(ma.fields.Nested(RoutineStepSchema), required=True)
    treatments = ma.fields.List(ma.fields.Nested(TreatmentSchema), required=True)
    advice = ma.fields.List(ma.fields.String(), required=True)


CategoryPageSchema = page_schema(CategorySchema, "CategoryPage")
class ProductPageSchema(page_schema(ProductSummarySchema, "ProductPageBase")):
    total_exact = ma.fields.Boolean(
        required=True,
        metadata={"description": "false when more products match than were counted: total "
                  "is then a lower bound (CATALOGUE_TOTAL_LIMIT matches past the page's "
                  "first item are counted, 1,000 by default)"},
    )
TreatmentPageSchema = page_schema(TreatmentSchema, "TreatmentPage")


class SuggestionQuerySchema(ma.Schema):
    q = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=100),
                         metadata={"description": "What the customer has typed so far"})
    limit = ma.fields.Integer(load_default=8, validate=ma.validate.Range(min=1, max=20))


class SuggestionSchema(ma.Schema):
    kind = ma.fields.String(required=True, metadata={"enum": ["product", "category",
                                                              "treatment"]})
    slug = ma.fields.String(required=True)
    name = ma.fields.String(required=True)


class SuggestionListSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(SuggestionSchema), required=True)
