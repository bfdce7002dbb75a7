"""Lean catalogue reads: Core rows straight into the JSON the schemas document.

The product page and the product detail are what shoppers' phones ask for most, and every
cache miss builds one. A profile of a page of 24 (ORM + marshmallow, the way the rest of the
shop reads) spent most of its time building ORM objects and walking them with marshmallow;
here three Core queries (the page with its total, the page's variants with their stock, its
concerns and skin types) fill plain dicts in the field order of ProductSummarySchema and
ProductSchema, which stay the OpenAPI documentation. tests/catalogue/test_listing.py holds
the two to the same output.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import Row, func, literal, select, union_all
from sqlalchemy.orm import Session

from shop.catalogue.models import (
    AVAILABLE_DISPLAY_CAP, Category, Concern, Product, ProductSkinType, Variant,
    product_concerns,
)
from shop.catalogue.services import ProductFilters, apply_filters, apply_sort
from shop.errors import NotFound
from shop.inventory.models import StockLevel

SUMMARY_COLUMNS = (
    Product.id, Product.slug, Product.name, Category.slug.label("category_slug"),
    Category.name.label("category_name"), Product.short_description, Product.routine_step,
    Product.time_of_use, Product.image_urls,
)
DETAIL_COLUMNS = (*SUMMARY_COLUMNS, Product.description, Product.how_to_use,
                  Product.key_ingredients)


def product_page(*, session: Session, filters: ProductFilters) -> dict:
    """One page of active products matching the filters, as ProductPageSchema dumps it."""
    stmt = (
        select(*SUMMARY_COLUMNS, func.count().over().label("total"))
        .join(Category, Category.id == Product.category_id)
        .where(Product.status == "active")
    )
    stmt = apply_sort(session, apply_filters(session, stmt, filters), filters)
    rows = session.execute(
        stmt.limit(filters.per_page).offset((filters.page - 1) * filters.per_page)
    ).all()
    if rows:
        total = rows[0].total
    elif filters.page == 1:
        total = 0
    else:  # past the last page: the window count had no row to ride on
        base = apply_filters(session, select(Product.id).where(Product.status == "active"),
                             filters)
        total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
    return {"items": _products(session, rows, detail=False), "page": filters.page,
            "per_page": filters.per_page, "total": total}


def product_detail(*, session: Session, slug: str) -> dict:
    """An active product as ProductSchema dumps it."""
    row = session.execute(
        select(*DETAIL_COLUMNS).join(Category, Category.id == Product.category_id)
        .where(Product.slug == slug, Product.status == "active")
    ).one_or_none()
    if row is None:
        raise NotFound(f"No product '{slug}'.", code="product_not_found")
    return _products(session, [row], detail=True)[0]


def _money(amount: int, currency: str) -> dict:
    return {"amount": amount, "currency": currency}


def _variants(session: Session, product_ids: list[int]) -> dict[int, list[dict]]:
    """Every variant of the products (as Product.variants holds them), with availability."""
    rows = session.execute(
        select(Variant.product_id, Variant.id, Variant.sku, Variant.name, Variant.price_amount,
               Variant.currency, Variant.compare_at_amount, Variant.weight_grams,
               Variant.barcode, Variant.voucher_kind, StockLevel.on_hand, StockLevel.reserved)
        .outerjoin(StockLevel, StockLevel.variant_id == Variant.id)
        .where(Variant.product_id.in_(product_ids))
        .order_by(Variant.product_id, Variant.position, Variant.id)
    )
    variants: dict[int, list[dict]] = defaultdict(list)
    for (product_id, id_, sku, name, price, currency, compare_at, weight, barcode, voucher_kind,
         on_hand, reserved) in rows:
        if voucher_kind is not None:  # vouchers are issued, not stocked (Variant.available_units)
            units = AVAILABLE_DISPLAY_CAP
        else:
            units = max(on_hand - reserved, 0) if on_hand is not None else 0
        variants[product_id].append({
            "id": id_, "sku": sku, "name": name, "price": _money(price, currency),
            "compare_at_price": None if compare_at is None else _money(compare_at, currency),
            "weight_grams": weight, "barcode": barcode, "in_stock": units > 0,
            "available": min(units, AVAILABLE_DISPLAY_CAP),
        })
    return variants


def _tags(session: Session, product_ids: list[int]) -> tuple[dict, dict]:
    """Concern slugs and skin types of the products, each in the order the ORM keeps them."""
    concerns = (
        select(product_concerns.c.product_id, literal("c").label("kind"),
               Concern.slug.label("value"))
        .join(Concern, Concern.id == product_concerns.c.concern_id)
        .where(product_concerns.c.product_id.in_(product_ids))
    )
    skin_types = (
        select(ProductSkinType.product_id, literal("s").label("kind"),
               ProductSkinType.skin_type.label("value"))
        .where(ProductSkinType.product_id.in_(product_ids))
    )
    tagged = union_all(concerns, skin_types).subquery()
    by_kind: dict[str, dict[int, list[str]]] = {"c": defaultdict(list), "s": defaultdict(list)}
    for product_id, kind, value in session.execute(
        select(tagged).order_by(tagged.c.product_id, tagged.c.kind, tagged.c.value)
    ):
        by_kind[kind][product_id].append(value)
    return by_kind["c"], by_kind["s"]


def _products(session: Session, rows: Sequence[Row], *, detail: bool) -> list[dict]:
    if not rows:
        return []
    ids = [row.id for row in rows]
    variants = _variants(session, ids)
    concerns, skin_types = _tags(session, ids)
    products = []
    for row in rows:
        product = {
            "slug": row.slug, "name": row.name,
            "category": {"slug": row.category_slug, "name": row.category_name},
            "short_description": row.short_description, "skin_types": skin_types[row.id],
            "concerns": concerns[row.id], "routine_step": row.routine_step,
            "time_of_use": row.time_of_use, "image_urls": row.image_urls,
            "variants": variants[row.id],
        }
        if detail:
            product.update(description=row.description, how_to_use=row.how_to_use,
                           key_ingredients=row.key_ingredients)
        products.append(product)
    return products
