"""PostgreSQL writes a product page's JSON itself: one statement, no rows through Python.

A cache miss built from rows (listing.py) spent more CPU in Python turning three result sets
into dicts and JSON than PostgreSQL spent finding them. Here the page query (the same
statement listing.py runs, with its filters, sort and count) is wrapped so that the server
aggregates the page's products, their variants with availability, concerns and skin types
into the items array of ProductPageSchema, in the schema's field order. SQLite keeps the
Python path; tests/catalogue/test_listing.py holds both to the schema's output.
"""

from __future__ import annotations

from sqlalchemy import Select, Text, case, cast, func, literal_column, select
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.sql.elements import ColumnElement

from shop.catalogue.models import (
    AVAILABLE_DISPLAY_CAP, Concern, ProductSkinType, Variant, product_concerns,
)
from shop.inventory.models import StockLevel

EMPTY_ARRAY = literal_column("'[]'::json")


def _object(*pairs: tuple[str, ColumnElement]) -> ColumnElement:
    """json_build_object('key', value, ...): keys are fixed names, rendered inline."""
    arguments = []
    for key, value in pairs:
        arguments += [literal_column(f"'{key}'"), value]
    return func.json_build_object(*arguments)


def _money(amount: ColumnElement, currency: ColumnElement) -> ColumnElement:
    return _object(("amount", amount), ("currency", currency))


def _variants(product_id: ColumnElement) -> ColumnElement:
    stock = func.coalesce(StockLevel.on_hand - StockLevel.reserved, 0)  # no stock row: none
    units = case((Variant.voucher_kind.is_not(None), AVAILABLE_DISPLAY_CAP),
                 else_=func.greatest(stock, 0))
    variant = _object(
        ("id", Variant.id), ("sku", Variant.sku), ("name", Variant.name),
        ("price", _money(Variant.price_amount, Variant.currency)),
        ("compare_at_price", case((Variant.compare_at_amount.is_(None), None),
                                  else_=_money(Variant.compare_at_amount, Variant.currency))),
        ("weight_grams", Variant.weight_grams), ("barcode", Variant.barcode),
        ("in_stock", units > 0), ("available", func.least(units, AVAILABLE_DISPLAY_CAP)),
    )
    return func.coalesce(
        select(func.json_agg(aggregate_order_by(variant, Variant.position, Variant.id)))
        .outerjoin(StockLevel, StockLevel.variant_id == Variant.id)
        .where(Variant.product_id == product_id).scalar_subquery(),
        EMPTY_ARRAY,
    )


def _concerns(product_id: ColumnElement) -> ColumnElement:
    return func.coalesce(
        select(func.json_agg(aggregate_order_by(Concern.slug, Concern.slug)))
        .join(product_concerns, product_concerns.c.concern_id == Concern.id)
        .where(product_concerns.c.product_id == product_id).scalar_subquery(),
        EMPTY_ARRAY,
    )


def _skin_types(product_id: ColumnElement) -> ColumnElement:
    skin_type = ProductSkinType.skin_type
    return func.coalesce(
        select(func.json_agg(aggregate_order_by(skin_type, skin_type)))
        .where(ProductSkinType.product_id == product_id).scalar_subquery(),
        EMPTY_ARRAY,
    )


def items_statement(page: Select, order: list[tuple[str, bool]]) -> Select:
    """(items JSON text, total) for a page statement from listing._page_statement; `order`
    names its sort-key columns. No row at all when the page is past the last one."""
    rows = page.subquery("page")
    item = _object(
        ("slug", rows.c.slug), ("name", rows.c.name),
        ("category", _object(("slug", rows.c.category_slug), ("name", rows.c.category_name))),
        ("short_description", rows.c.short_description),
        ("skin_types", _skin_types(rows.c.id)), ("concerns", _concerns(rows.c.id)),
        ("routine_step", rows.c.routine_step), ("time_of_use", rows.c.time_of_use),
        ("image_urls", rows.c.image_urls), ("variants", _variants(rows.c.id)),
    )
    ordering = [rows.c[name].desc() if descending else rows.c[name].asc()
                for name, descending in order]
    return (
        select(cast(func.json_agg(aggregate_order_by(item, *ordering)), Text).label("items"),
               func.max(rows.c.total).label("total"))
        .select_from(rows)
        .having(func.count() > 0)
    )
