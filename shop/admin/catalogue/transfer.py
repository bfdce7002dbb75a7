"""The catalogue as one CSV: export it, edit it in a spreadsheet, import it back.

One row per category, per product variant (the product's own columns repeat on each of its
variant rows) and per treatment, told apart by the `type` column. Rows are matched by slug
(and variant rows by SKU): new keys are created, existing rows updated where a cell differs,
rows absent from the file left alone, and a column absent from the file leaves that field
as it is. Every row is checked before anything is written; one bad row and nothing is.
Exporting and importing the same file changes nothing (no audit entries, same version).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import marshmallow as ma
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from shop.admin.catalogue.schemas import SKU_ERROR, SKU_PATTERN, SLUG_ERROR, SLUG_PATTERN
from shop.admin.catalogue.services import category_snapshot
from shop.api import INTEGER_RANGE
from shop.catalogue.models import (
    ROUTINE_STEPS,
    SKIN_TYPES,
    STATUSES,
    TIMES_OF_USE,
    Category,
    Product,
    Treatment,
    Variant,
)
from shop.csvio import EXTRA_CELLS, LIST_SEPARATOR, write_csv
from shop.http import NUL_MESSAGE

CATEGORY_COLUMNS = ("slug", "name", "description", "position")
PRODUCT_COLUMNS = ("slug", "name", "status", "category", "short_description", "description",
                   "how_to_use", "key_ingredients", "skin_types", "concerns", "routine_step",
                   "time_of_use", "image_urls")
VARIANT_COLUMNS = ("sku", "variant_name", "price", "compare_at_price", "cost", "currency",
                   "weight_grams", "barcode", "variant_position", "variant_active",
                   "low_stock_threshold")
TREATMENT_COLUMNS = ("slug", "name", "status", "description", "duration_minutes", "price",
                     "currency", "concerns")
COLUMNS = ("type", *dict.fromkeys(CATEGORY_COLUMNS + PRODUCT_COLUMNS + VARIANT_COLUMNS
                                  + TREATMENT_COLUMNS))
COLUMNS_BY_TYPE = {
    "category": set(CATEGORY_COLUMNS),
    "product": set(PRODUCT_COLUMNS + VARIANT_COLUMNS),
    "treatment": set(TREATMENT_COLUMNS),
}
KINDS = ("categories", "products", "variants", "treatments")


# --- export -------------------------------------------------------------------------------


def _joined(values: list[str]) -> str:
    return LIST_SEPARATOR.join(values)


def _product_cells(product: Product) -> dict[str, Any]:
    return {
        "type": "product", "slug": product.slug, "name": product.name, "status": product.status,
        "category": product.category.slug, "short_description": product.short_description,
        "description": product.description, "how_to_use": product.how_to_use,
        "key_ingredients": _joined(product.key_ingredients),
        "skin_types": _joined(product.skin_types),
        "concerns": _joined([concern.slug for concern in product.concerns]),
        "routine_step": product.routine_step, "time_of_use": product.time_of_use,
        "image_urls": _joined(product.image_urls),
    }


def _variant_cells(variant: Variant) -> dict[str, Any]:
    return {
        "sku": variant.sku, "variant_name": variant.name, "price": variant.price_amount,
        "compare_at_price": variant.compare_at_amount, "cost": variant.cost_amount,
        "currency": variant.currency, "weight_grams": variant.weight_grams,
        "barcode": variant.barcode, "variant_position": variant.position,
        "variant_active": "true" if variant.is_active else "false",
        "low_stock_threshold": (variant.stock_level.low_stock_threshold
                                if variant.stock_level else None),
    }


def export_rows(session: Session) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for category in session.scalars(select(Category).order_by(Category.position, Category.slug)):
        rows.append({"type": "category", **category_snapshot(category)})
    products = session.scalars(
        select(Product).order_by(Product.slug).options(
            selectinload(Product.variants).joinedload(Variant.stock_level),
            selectinload(Product.concerns), selectinload(Product.skin_type_rows),
        )
    ).unique()
    for product in products:
        cells = _product_cells(product)
        rows += [{**cells, **_variant_cells(v)} for v in product.variants] or [cells]
    treatments = session.scalars(
        select(Treatment).order_by(Treatment.slug).options(selectinload(Treatment.concerns))
    )
    for treatment in treatments:
        rows.append({
            "type": "treatment", "slug": treatment.slug, "name": treatment.name,
            "status": treatment.status, "description": treatment.description,
            "duration_minutes": treatment.duration_minutes, "price": treatment.price_amount,
            "currency": treatment.currency,
            "concerns": _joined([concern.slug for concern in treatment.concerns]),
        })
    return [{key: "" if value is None else value for key, value in row.items()} for row in rows]


def export_catalogue(*, session: Session) -> str:
    """The whole catalogue as CSV text, in a stable order."""
    return write_csv(export_rows(session), COLUMNS)


# --- row parsing ---------------------------------------------------------------------------


class CsvList(ma.fields.Field):
    """'a|b|c' -> ['a', 'b', 'c'] (blank cell -> [])."""

    def __init__(self, inner: ma.fields.Field | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.inner = inner

    def _deserialize(self, value, attr, data, **kwargs):
        items = [item.strip() for item in str(value).split(LIST_SEPARATOR) if item.strip()]
        if self.inner is None:
            return items
        return [self.inner.deserialize(item) for item in items]


LOWEST, HIGHEST = INTEGER_RANGE


def _slug(**kwargs) -> ma.fields.String:
    return ma.fields.String(validate=[ma.validate.Length(min=1, max=120),
                                      ma.validate.Regexp(SLUG_PATTERN, error=SLUG_ERROR)],
                            **kwargs)


def _int(minimum: int = 0, **kwargs) -> ma.fields.Integer:
    """A whole number that fits the INTEGER column it goes to (PostgreSQL refuses a bigger
    one with an error: a 500 at the write, even of a dry run)."""
    return ma.fields.Integer(strict=False, validate=ma.validate.Range(min=minimum, max=HIGHEST),
                             **kwargs)


class RowSchema(ma.Schema):
    """Cells arrive as text: key-like cells are stripped, blank nullable cells become null."""

    TEXT = frozenset({"name", "description", "short_description", "how_to_use", "variant_name"})

    @ma.pre_load
    def clean(self, data: dict, **_: object) -> dict:
        cleaned = {}
        for key, value in data.items():
            value = value if key in self.TEXT else value.strip()
            field_obj = self.fields.get(key)
            if value == "" and field_obj is not None and field_obj.allow_none:
                value = None
            cleaned[key] = value
        return cleaned


class CategoryRowSchema(RowSchema):
    slug = _slug(required=True)
    name = ma.fields.String(validate=ma.validate.Length(min=1, max=120))
    description = ma.fields.String()
    position = _int(LOWEST)


class ProductRowSchema(RowSchema):
    slug = _slug(required=True)
    name = ma.fields.String(validate=ma.validate.Length(min=1, max=200))
    status = ma.fields.String(validate=ma.validate.OneOf(STATUSES))
    category = _slug()
    short_description = ma.fields.String(validate=ma.validate.Length(max=300))
    description = ma.fields.String()
    how_to_use = ma.fields.String()
    key_ingredients = CsvList()
    skin_types = CsvList(ma.fields.String(validate=ma.validate.OneOf(SKIN_TYPES)))
    concerns = CsvList(_slug())
    routine_step = ma.fields.String(allow_none=True, validate=ma.validate.OneOf(ROUTINE_STEPS))
    time_of_use = ma.fields.String(allow_none=True, validate=ma.validate.OneOf(TIMES_OF_USE))
    image_urls = CsvList(ma.fields.Url(schemes={"http", "https"}))
    sku = ma.fields.String(allow_none=True, validate=[
        ma.validate.Length(min=1, max=64), ma.validate.Regexp(SKU_PATTERN, error=SKU_ERROR)])
    variant_name = ma.fields.String(allow_none=True, validate=ma.validate.Length(min=1, max=120))
    price = _int(allow_none=True)
    compare_at_price = _int(allow_none=True)
    cost = _int(allow_none=True)
    currency = ma.fields.String(allow_none=True)
    weight_grams = _int(allow_none=True)
    barcode = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=32))
    variant_position = _int(LOWEST, allow_none=True)
    variant_active = ma.fields.Boolean(allow_none=True)
    low_stock_threshold = _int(allow_none=True)


class TreatmentRowSchema(RowSchema):
    slug = _slug(required=True)
    name = ma.fields.String(validate=ma.validate.Length(min=1, max=200))
    status = ma.fields.String(validate=ma.validate.OneOf(STATUSES))
    description = ma.fields.String()
    duration_minutes = _int(1, allow_none=True)
    price = _int(allow_none=True)
    currency = ma.fields.String(allow_none=True)
    concerns = CsvList(_slug())


ROW_SCHEMAS = {"category": CategoryRowSchema(), "product": ProductRowSchema(),
               "treatment": TreatmentRowSchema()}


@dataclass
class ParsedRow:
    line: int
    type: str
    data: dict[str, Any]
    errors: dict[str, list[str]] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return self.data.get("sku") or self.data.get("slug") or ""

    def error(self, column: str, message: str) -> None:
        self.errors.setdefault(column, []).append(message)


def parse_row(line: int, cells: dict[str, Any]) -> ParsedRow:
    row_type = (cells.get("type") or "").strip()
    row = ParsedRow(line, row_type, {})
    if EXTRA_CELLS in cells or any(value is None for value in cells.values()):
        row.error("row", "The row does not have as many cells as the header has columns.")
        return row
    for column, value in cells.items():  # (PostgreSQL cannot store it: a 500 at the write)
        if "\x00" in value:
            row.error(column, NUL_MESSAGE)
    if row.errors:
        return row
    if row_type not in ROW_SCHEMAS:
        row.error("type", "Must be one of: category, product, treatment.")
        return row
    used = COLUMNS_BY_TYPE[row_type]
    for column, value in cells.items():
        if column != "type" and column not in used and value.strip():
            row.error(column, f"Not used for {row_type} rows; leave it blank.")
    relevant = {k: v for k, v in cells.items() if k in used}
    try:
        row.data = ROW_SCHEMAS[row_type].load(relevant)
    except ma.ValidationError as exc:
        for column, messages in exc.normalized_messages().items():
            for message in messages if isinstance(messages, list) else [str(messages)]:
                row.error(column, str(message))
    return row
