"""Products and their variants: create, edit, price, publish, archive, delete when unused."""

from __future__ import annotations

from sqlalchemy import Select, exists, func, or_, select
from sqlalchemy.orm import Session, selectinload

from shop.accounts.models import User
from shop.admin.catalogue.services import (
    STATUS_ACTIONS,
    amount_of,
    assign,
    category_by_slug,
    concerns_by_slug,
    ensure_free,
    flush_unique,
    product_snapshot,
    shop_currency,
    variant_snapshot,
    variants_in_use,
    written,
)
from shop.catalogue.models import Category, Product, Variant
from shop.errors import Conflict, NotFound, ValidationFailed
from shop.inventory import services as inventory
from shop.inventory.models import StockLevel

PRODUCT_TEXT_FIELDS = ("slug", "name", "short_description", "description", "how_to_use",
                       "key_ingredients", "routine_step", "time_of_use", "image_urls")
VARIANT_FIELDS = ("name", "price_amount", "compare_at_amount", "cost_amount", "weight_grams",
                  "barcode", "position", "is_active")


def new_product_defaults() -> dict:
    """Column defaults apply only at flush; the search text is built before that."""
    return {"short_description": "", "description": "", "how_to_use": "",
            "key_ingredients": [], "image_urls": []}


MONEY_FIELDS = {"price": "price_amount", "compare_at_price": "compare_at_amount",
                "cost": "cost_amount"}


def products_query(
    *, status: str | None = None, category: str | None = None, q: str | None = None
) -> Select:
    stmt = select(Product).options(
        selectinload(Product.variants).joinedload(Variant.stock_level),
        selectinload(Product.concerns), selectinload(Product.skin_type_rows),
    )
    if status:
        stmt = stmt.where(Product.status == status)
    if category:
        stmt = stmt.where(Product.category.has(Category.slug == category))
    if q:
        needle = q.lower()
        stmt = stmt.where(or_(
            func.lower(Product.name).contains(needle, autoescape=True),
            Product.slug.contains(needle, autoescape=True),
            exists().where(Variant.product_id == Product.id,
                           func.lower(Variant.sku).contains(needle, autoescape=True)),
        ))
    return stmt.order_by(Product.name, Product.id)


def get_product(*, session: Session, slug: str) -> Product:
    product = session.scalars(products_query().where(Product.slug == slug)).unique().one_or_none()
    if product is None:
        raise NotFound(f"No product '{slug}'.", code="product_not_found")
    return product


def get_variant(*, session: Session, slug: str, sku: str) -> Variant:
    product = get_product(session=session, slug=slug)
    variant = next((v for v in product.variants if v.sku == sku), None)
    if variant is None:
        raise NotFound(f"Product '{slug}' has no variant '{sku}'.", code="variant_not_found")
    return variant


def _check_prices(variant: Variant) -> None:
    if variant.compare_at_amount is not None and variant.compare_at_amount <= variant.price_amount:
        raise ValidationFailed("A compare-at price must be above the price.",
                               errors={"compare_at_price": ["Must be above the price."]})


def _variant_values(data: dict) -> dict:
    values = {k: v for k, v in data.items() if k not in MONEY_FIELDS}
    for field, column in MONEY_FIELDS.items():
        if field in data:
            values[column] = amount_of(data[field], field)
    return values


def _new_variant(session: Session, product: Product, data: dict) -> Variant:
    ensure_free(session, Variant.sku, data["sku"], "sku", "sku_taken")
    values = _variant_values(data)
    threshold = values.pop("low_stock_threshold", 5)
    position = values.pop("position", len(product.variants))
    variant = Variant(currency=shop_currency(), position=position, **values)
    _check_prices(variant)
    product.variants.append(variant)
    inventory.create_level(session=session, variant=variant, low_stock_threshold=threshold)
    return variant


def create_product(*, session: Session, actor: User, data: dict) -> Product:
    ensure_free(session, Product.slug, data["slug"], "slug", "slug_taken")
    skus = [variant["sku"] for variant in data["variants"]]
    if len(set(skus)) != len(skus):
        raise ValidationFailed("Each variant needs its own SKU.",
                               errors={"variants": ["SKUs repeat."]})
    product = Product(
        category=category_by_slug(session, data["category"]), status=data["status"],
        concerns=concerns_by_slug(session, data.get("concerns", [])),
        **{**new_product_defaults(), **{k: data[k] for k in PRODUCT_TEXT_FIELDS if k in data}},
    )
    product.skin_types = data.get("skin_types", [])
    session.add(product)
    for variant_data in data["variants"]:
        _new_variant(session, product, variant_data)
    if product.status == "active":
        _ensure_publishable(product)
    product.rebuild_search_text()
    flush_unique(session, "slug", "slug_taken")
    written(session, actor, "product.create", "product", product.id,
            None, product_snapshot(product))
    for variant in product.variants:
        written(session, actor, "variant.create", "variant", variant.id,
                None, variant_snapshot(variant))
    return product


def apply_product_fields(session: Session, product: Product, data: dict) -> bool:
    """Set what differs; True when anything did. Shared with the CSV import."""
    changed = assign(product, data, PRODUCT_TEXT_FIELDS + ("status",))
    if "category" in data and data["category"] != product.category.slug:
        product.category = category_by_slug(session, data["category"])
        changed = True
    if "concerns" in data and set(data["concerns"]) != {c.slug for c in product.concerns}:
        product.concerns = concerns_by_slug(session, data["concerns"])
        changed = True
    if "skin_types" in data and set(data["skin_types"]) != set(product.skin_types):
        product.skin_types = data["skin_types"]
        changed = True
    if changed:
        product.rebuild_search_text()
    return changed


def update_product(*, session: Session, actor: User, slug: str, data: dict) -> Product:
    product = get_product(session=session, slug=slug)
    if data.get("slug", slug) != slug:
        ensure_free(session, Product.slug, data["slug"], "slug", "slug_taken")
    before = product_snapshot(product)
    if apply_product_fields(session, product, data):
        flush_unique(session, "slug", "slug_taken")
        written(session, actor, "product.update", "product", product.id,
                before, product_snapshot(product))
    return product


def _ensure_publishable(product: Product) -> None:
    if not any(variant.is_active for variant in product.variants):
        raise Conflict("A product needs at least one active variant to be published.",
                       code="product_not_publishable")


def set_product_status(*, session: Session, actor: User, slug: str, action: str) -> Product:
    product = get_product(session=session, slug=slug)
    target = STATUS_ACTIONS[action]
    if product.status != target:
        if target == "active":
            _ensure_publishable(product)
        before = product_snapshot(product)
        product.status = target
        session.flush()
        written(session, actor, f"product.{action}", "product", product.id,
                before, product_snapshot(product))
    return product


def delete_product(*, session: Session, actor: User, slug: str) -> None:
    product = get_product(session=session, slug=slug)
    if variants_in_use(session, [variant.id for variant in product.variants]):
        raise Conflict("This product has stock history or orders; archive it instead.",
                       code="product_in_use")
    before = product_snapshot(product)
    session.delete(product)
    session.flush()
    written(session, actor, "product.delete", "product", product.id, before, None)


def create_variant(*, session: Session, actor: User, slug: str, data: dict) -> Variant:
    product = get_product(session=session, slug=slug)
    variant = _new_variant(session, product, data)
    flush_unique(session, "sku", "sku_taken")
    written(session, actor, "variant.create", "variant", variant.id,
            None, variant_snapshot(variant))
    return variant


def apply_variant_fields(variant: Variant, data: dict) -> bool:
    """Set what differs (money already in minor units); shared with the CSV import."""
    changed = assign(variant, data, VARIANT_FIELDS)
    threshold = data.get("low_stock_threshold")
    level = variant.stock_level
    if threshold is not None and (level is None or level.low_stock_threshold != threshold):
        if level is None:
            level = StockLevel(variant=variant, on_hand=0, reserved=0)
        level.low_stock_threshold = threshold
        changed = True
    _check_prices(variant)
    return changed


def update_variant(*, session: Session, actor: User, slug: str, sku: str, data: dict) -> Variant:
    variant = get_variant(session=session, slug=slug, sku=sku)
    before = variant_snapshot(variant)
    if apply_variant_fields(variant, _variant_values(data)):
        session.flush()
        action = "variant.price_change" if _price_only(before, variant) else "variant.update"
        written(session, actor, action, "variant", variant.id, before, variant_snapshot(variant))
    return variant


def _price_only(before: dict, variant: Variant) -> bool:
    after = variant_snapshot(variant)
    changed = {key for key in after if after[key] != before[key]}
    return bool(changed) and changed <= {"price_amount", "compare_at_amount"}


def archive_variant(*, session: Session, actor: User, slug: str, sku: str) -> Variant:
    variant = get_variant(session=session, slug=slug, sku=sku)
    if variant.is_active:
        before = variant_snapshot(variant)
        variant.is_active = False
        session.flush()
        written(session, actor, "variant.archive", "variant", variant.id,
                before, variant_snapshot(variant))
    return variant


def delete_variant(*, session: Session, actor: User, slug: str, sku: str) -> None:
    variant = get_variant(session=session, slug=slug, sku=sku)
    if variants_in_use(session, [variant.id]):
        raise Conflict("This variant has stock history or orders; archive it instead.",
                       code="variant_in_use")
    before = variant_snapshot(variant)
    variant.product.variants.remove(variant)
    session.flush()
    written(session, actor, "variant.delete", "variant", variant.id, before, None)
