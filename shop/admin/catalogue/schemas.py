"""Catalogue admin requests and responses: what staff see (costs, stock, drafts) and send."""

from __future__ import annotations

import marshmallow as ma

from shop.admin.schemas import AdminListArgsSchema, UtcDateTime
from shop.catalogue.models import ROUTINE_STEPS, SKIN_TYPES, STATUSES, TIMES_OF_USE
from shop.catalogue.schemas import CategoryRefSchema, ConcernSchema
from shop.money import Money, MoneySchema
from shop.schemas import money_field, page_schema

SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
SKU_PATTERN = r"^[A-Z0-9]+(?:[-_.][A-Z0-9]+)*$"
SLUG_ERROR = "Use lower-case letters and digits separated by single hyphens."
SKU_ERROR = "Use upper-case letters and digits separated by single '-', '_' or '.'."


def slug_field(max_length: int, **kwargs) -> ma.fields.String:
    return ma.fields.String(
        validate=[ma.validate.Length(min=1, max=max_length),
                  ma.validate.Regexp(SLUG_PATTERN, error=SLUG_ERROR)],
        **kwargs,
    )


def sku_field(**kwargs) -> ma.fields.String:
    return ma.fields.String(
        validate=[ma.validate.Length(min=1, max=64),
                  ma.validate.Regexp(SKU_PATTERN, error=SKU_ERROR)],
        **kwargs,
    )


class AmountMoney(ma.fields.Nested):
    """Dumps an integer `*_amount` column and the row's currency as a Money object."""

    def __init__(self, amount_attribute: str, **kwargs) -> None:
        super().__init__(MoneySchema, **kwargs)
        self.amount_attribute = amount_attribute

    def serialize(self, attr, obj, accessor=None, **kwargs):
        amount = getattr(obj, self.amount_attribute)
        value = None if amount is None else Money(amount, obj.currency)
        return self._serialize(value, attr, obj, **kwargs)


def text_field(max_length: int | None = None, **kwargs) -> ma.fields.String:
    validate = ma.validate.Length(max=max_length) if max_length else None
    return ma.fields.String(validate=validate, **kwargs)


# --- categories -------------------------------------------------------------------------


class CategoryAdminSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    slug = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
    description = ma.fields.String()
    position = ma.fields.Integer()
    status = ma.fields.String(metadata={"description": "active or archived"})
    created_at = UtcDateTime()
    updated_at = UtcDateTime()


class CategoryCreateSchema(ma.Schema):
    slug = slug_field(80, required=True)
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=120))
    description = text_field(load_default="")
    position = ma.fields.Integer(load_default=0)


class CategoryUpdateSchema(ma.Schema):
    slug = slug_field(80)
    name = ma.fields.String(validate=ma.validate.Length(min=1, max=120))
    description = text_field()
    position = ma.fields.Integer()


# --- products and variants --------------------------------------------------------------


class VariantAdminSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    sku = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
    price = money_field(required=True)
    compare_at_price = money_field(allow_none=True)
    cost = AmountMoney("cost_amount", allow_none=True)
    weight_grams = ma.fields.Integer(allow_none=True)
    barcode = ma.fields.String(allow_none=True)
    position = ma.fields.Integer()
    is_active = ma.fields.Boolean()
    on_hand = ma.fields.Integer(attribute="stock_level.on_hand")
    reserved = ma.fields.Integer(attribute="stock_level.reserved")
    available = ma.fields.Integer(attribute="available_units")
    low_stock_threshold = ma.fields.Integer(attribute="stock_level.low_stock_threshold")


class VariantFieldsSchema(ma.Schema):
    name = ma.fields.String(validate=ma.validate.Length(min=1, max=120))
    price = money_field()
    compare_at_price = money_field(allow_none=True)
    cost = money_field(allow_none=True)
    weight_grams = ma.fields.Integer(allow_none=True, validate=ma.validate.Range(min=0))
    barcode = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=32))
    position = ma.fields.Integer()
    is_active = ma.fields.Boolean()
    low_stock_threshold = ma.fields.Integer(validate=ma.validate.Range(min=0, max=1_000_000))


class VariantCreateSchema(VariantFieldsSchema):
    sku = sku_field(required=True)
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=120))
    price = money_field(required=True)


class VariantUpdateSchema(VariantFieldsSchema):
    """Everything but the SKU, which order lines and the stock ledger refer to."""


class ProductAdminSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    slug = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
    status = ma.fields.String(required=True)
    category = ma.fields.Nested(CategoryRefSchema, required=True)
    short_description = ma.fields.String()
    description = ma.fields.String()
    how_to_use = ma.fields.String()
    key_ingredients = ma.fields.List(ma.fields.String())
    skin_types = ma.fields.List(ma.fields.String())
    concerns = ma.fields.List(ma.fields.Pluck(ConcernSchema, "slug"))
    routine_step = ma.fields.String(allow_none=True)
    time_of_use = ma.fields.String(allow_none=True)
    image_urls = ma.fields.List(ma.fields.String())
    variants = ma.fields.List(ma.fields.Nested(VariantAdminSchema))
    created_at = UtcDateTime()
    updated_at = UtcDateTime()


class ProductFieldsSchema(ma.Schema):
    name = ma.fields.String(validate=ma.validate.Length(min=1, max=200))
    category = slug_field(80, metadata={"description": "Category slug"})
    short_description = text_field(300)
    description = text_field()
    how_to_use = text_field()
    key_ingredients = ma.fields.List(ma.fields.String(validate=ma.validate.Length(min=1, max=200)))
    skin_types = ma.fields.List(ma.fields.String(validate=ma.validate.OneOf(SKIN_TYPES)))
    concerns = ma.fields.List(slug_field(80), metadata={"description": "Concern slugs"})
    routine_step = ma.fields.String(allow_none=True, validate=ma.validate.OneOf(ROUTINE_STEPS))
    time_of_use = ma.fields.String(allow_none=True, validate=ma.validate.OneOf(TIMES_OF_USE))
    image_urls = ma.fields.List(ma.fields.Url(schemes={"https", "http"}))


class ProductCreateSchema(ProductFieldsSchema):
    slug = slug_field(120, required=True)
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=200))
    category = slug_field(80, required=True, metadata={"description": "Category slug"})
    status = ma.fields.String(load_default="draft", validate=ma.validate.OneOf(("draft", "active")))
    variants = ma.fields.List(ma.fields.Nested(VariantCreateSchema), load_default=list)


class ProductUpdateSchema(ProductFieldsSchema):
    """Publishing, unpublishing and archiving have their own endpoints."""

    slug = slug_field(120)


class ProductQuerySchema(AdminListArgsSchema):
    status = ma.fields.String(validate=ma.validate.OneOf(STATUSES))
    category = ma.fields.String(validate=ma.validate.Length(max=80))
    q = ma.fields.String(
        validate=ma.validate.Length(min=1, max=120),
        metadata={"description": "Part of the name, slug or a SKU"},
    )


# --- treatments -------------------------------------------------------------------------


class TreatmentAdminSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    slug = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
    description = ma.fields.String()
    duration_minutes = ma.fields.Integer(required=True)
    price = money_field(required=True)
    status = ma.fields.String(required=True)
    concerns = ma.fields.List(ma.fields.Pluck(ConcernSchema, "slug"))
    created_at = UtcDateTime()
    updated_at = UtcDateTime()


class TreatmentFieldsSchema(ma.Schema):
    name = ma.fields.String(validate=ma.validate.Length(min=1, max=200))
    description = text_field()
    duration_minutes = ma.fields.Integer(validate=ma.validate.Range(min=1, max=24 * 60))
    price = money_field()
    concerns = ma.fields.List(slug_field(80), metadata={"description": "Concern slugs"})


class TreatmentCreateSchema(TreatmentFieldsSchema):
    slug = slug_field(120, required=True)
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=200))
    duration_minutes = ma.fields.Integer(
        required=True, validate=ma.validate.Range(min=1, max=24 * 60)
    )
    price = money_field(required=True)
    status = ma.fields.String(load_default="draft", validate=ma.validate.OneOf(("draft", "active")))


class TreatmentUpdateSchema(TreatmentFieldsSchema):
    slug = slug_field(120)


class StatusQuerySchema(AdminListArgsSchema):
    status = ma.fields.String(validate=ma.validate.OneOf(STATUSES))


# --- CSV transfer -----------------------------------------------------------------------


class ImportArgsSchema(ma.Schema):
    dry_run = ma.fields.Boolean(
        load_default=False, metadata={"description": "Validate and report, write nothing"}
    )


class ImportCountsSchema(ma.Schema):
    categories = ma.fields.Integer(required=True)
    products = ma.fields.Integer(required=True)
    variants = ma.fields.Integer(required=True)
    treatments = ma.fields.Integer(required=True)


class ImportReportSchema(ma.Schema):
    dry_run = ma.fields.Boolean(required=True)
    rows = ma.fields.Integer(required=True)
    created = ma.fields.Nested(ImportCountsSchema, required=True)
    updated = ma.fields.Nested(ImportCountsSchema, required=True)
    unchanged = ma.fields.Nested(ImportCountsSchema, required=True)
    catalogue_version = ma.fields.Integer(required=True)


CategoryAdminPageSchema = page_schema(CategoryAdminSchema, "CategoryAdminPage")
ProductAdminPageSchema = page_schema(ProductAdminSchema, "ProductAdminPage")
TreatmentAdminPageSchema = page_schema(TreatmentAdminSchema, "TreatmentAdminPage")
