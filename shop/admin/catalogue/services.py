"""Catalogue writes by staff. Each one validates, changes rows, records an audit entry and
bumps the catalogue version, and does the last two only when something really changed.

Prices change on the variant row only: carts price their lines on every read and order
lines snapshot the price they were sold at, so placed orders never move.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask import current_app
from sqlalchemy import Select, exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from shop.accounts.models import User
from shop.audit import record as audit_record
from shop.catalogue.models import Category, Concern, Product, Treatment, Variant
from shop.catalogue_version import bump_catalogue_version
from shop.errors import Conflict, NotFound, ValidationFailed
from shop.inventory.models import StockMovement
from shop.money import Money
from shop.orders.models import OrderLine

STATUS_ACTIONS = {"publish": "active", "unpublish": "draft", "archive": "archived"}


# --- snapshots for the audit log (and the CSV export's notion of "the same") -------------


def category_snapshot(category: Category) -> dict[str, Any]:
    return {"slug": category.slug, "name": category.name,
            "description": category.description, "position": category.position}


def product_snapshot(product: Product) -> dict[str, Any]:
    return {
        "slug": product.slug, "name": product.name, "status": product.status,
        "category": product.category.slug, "short_description": product.short_description,
        "description": product.description, "how_to_use": product.how_to_use,
        "key_ingredients": list(product.key_ingredients), "skin_types": product.skin_types,
        "concerns": sorted(concern.slug for concern in product.concerns),
        "routine_step": product.routine_step, "time_of_use": product.time_of_use,
        "image_urls": list(product.image_urls),
    }


def variant_snapshot(variant: Variant) -> dict[str, Any]:
    level = variant.stock_level
    return {
        "sku": variant.sku, "product": variant.product.slug, "name": variant.name,
        "price_amount": variant.price_amount, "compare_at_amount": variant.compare_at_amount,
        "cost_amount": variant.cost_amount, "currency": variant.currency,
        "weight_grams": variant.weight_grams, "barcode": variant.barcode,
        "position": variant.position, "is_active": variant.is_active,
        "low_stock_threshold": level.low_stock_threshold if level else None,
    }


def treatment_snapshot(treatment: Treatment) -> dict[str, Any]:
    return {
        "slug": treatment.slug, "name": treatment.name, "description": treatment.description,
        "duration_minutes": treatment.duration_minutes, "price_amount": treatment.price_amount,
        "currency": treatment.currency, "status": treatment.status,
        "concerns": sorted(concern.slug for concern in treatment.concerns),
    }


# --- shared steps ---------------------------------------------------------------------------


def shop_currency() -> str:
    return current_app.config["SHOP_CURRENCY"]


def written(
    session: Session, actor: User, action: str, entity: str, row_id: int,
    before: dict | None, after: dict | None,
) -> None:
    """Every catalogue write ends here: audit entry plus a new catalogue version."""
    audit_record(session=session, actor=actor, action=action, entity=entity,
                 entity_id=str(row_id), before=before, after=after)
    bump_catalogue_version(session=session)


def flush_unique(session: Session, field: str, code: str) -> None:
    """Flush; a unique violation that slipped past the check (a race) is still a clean 409."""
    try:
        session.flush()
    except IntegrityError as exc:
        raise Conflict(f"That {field} is already taken.", code=code,
                       errors={field: ["Already taken."]}) from exc


def ensure_free(session: Session, column, value: str, field: str, code: str,
                ignore_id: int | None = None) -> None:
    stmt = select(column.class_.id).where(column == value)
    if ignore_id is not None:
        stmt = stmt.where(column.class_.id != ignore_id)
    if session.scalar(stmt.limit(1)) is not None:
        raise Conflict(f"The {field} '{value}' is already taken.", code=code,
                       errors={field: ["Already taken."]})


def assign(row: Any, data: dict, names: Iterable[str]) -> bool:
    changed = False
    for name in names:
        if name in data and getattr(row, name) != data[name]:
            setattr(row, name, data[name])
            changed = True
    return changed


def amount_of(money: Money | None, field: str) -> int | None:
    if money is None:
        return None
    if money.currency != shop_currency():
        raise ValidationFailed("Prices are in the shop's currency.",
                               errors={field: [f"Must be in {shop_currency()}."]})
    if money.amount < 0:
        raise ValidationFailed("Amounts cannot be negative.", errors={field: ["Must be >= 0."]})
    return money.amount


def concerns_by_slug(session: Session, slugs: list[str], field: str = "concerns") -> list[Concern]:
    found = {c.slug: c for c in session.scalars(select(Concern).where(Concern.slug.in_(slugs)))}
    unknown = [slug for slug in dict.fromkeys(slugs) if slug not in found]
    if unknown:
        raise ValidationFailed("Unknown concern.",
                               errors={field: [f"No concern '{slug}'." for slug in unknown]})
    return [found[slug] for slug in dict.fromkeys(slugs)]


def category_by_slug(session: Session, slug: str, field: str = "category") -> Category:
    category = session.scalar(select(Category).where(Category.slug == slug))
    if category is None:
        raise ValidationFailed("Unknown category.", errors={field: [f"No category '{slug}'."]})
    return category


def variants_in_use(session: Session, variant_ids: list[int]) -> bool:
    """A variant with stock history (or sold on an order) must be archived, not deleted."""
    if not variant_ids:
        return False
    return bool(session.scalar(select(
        exists().where(StockMovement.variant_id.in_(variant_ids))
        | exists().where(OrderLine.variant_id.in_(variant_ids))
    )))


# --- categories -------------------------------------------------------------------------------


def categories_query() -> Select:
    return select(Category).order_by(Category.position, Category.name, Category.id)


def get_category(*, session: Session, slug: str) -> Category:
    category = session.scalar(select(Category).where(Category.slug == slug))
    if category is None:
        raise NotFound(f"No category '{slug}'.", code="category_not_found")
    return category


def create_category(*, session: Session, actor: User, data: dict) -> Category:
    ensure_free(session, Category.slug, data["slug"], "slug", "slug_taken")
    category = Category(**data)
    session.add(category)
    flush_unique(session, "slug", "slug_taken")
    written(session, actor, "category.create", "category", category.id,
            None, category_snapshot(category))
    return category


def update_category(*, session: Session, actor: User, slug: str, data: dict) -> Category:
    category = get_category(session=session, slug=slug)
    if data.get("slug", slug) != slug:
        ensure_free(session, Category.slug, data["slug"], "slug", "slug_taken")
    before = category_snapshot(category)
    if assign(category, data, ("slug", "name", "description", "position")):
        flush_unique(session, "slug", "slug_taken")
        written(session, actor, "category.update", "category", category.id,
                before, category_snapshot(category))
    return category


def set_category_status(*, session: Session, actor: User, slug: str, status: str) -> Category:
    """Archive a category (hidden from the storefront's category list) or bring it back.
    Its products keep their own status."""
    category = get_category(session=session, slug=slug)
    if category.status != status:
        before = {**category_snapshot(category), "status": category.status}
        category.status = status
        session.flush()
        written(session, actor, f"category.{'archive' if status == 'archived' else 'publish'}",
                "category", category.id, before, {**category_snapshot(category), "status": status})
    return category


def delete_category(*, session: Session, actor: User, slug: str) -> None:
    category = get_category(session=session, slug=slug)
    if session.scalar(select(exists().where(Product.category_id == category.id))):
        raise Conflict("Products are filed under this category; move them first.",
                       code="category_in_use")
    before = category_snapshot(category)
    session.delete(category)
    session.flush()
    written(session, actor, "category.delete", "category", category.id, before, None)


# --- treatments -----------------------------------------------------------------------------


def treatments_query(*, status: str | None = None) -> Select:
    stmt = select(Treatment).options(selectinload(Treatment.concerns))
    if status:
        stmt = stmt.where(Treatment.status == status)
    return stmt.order_by(Treatment.name, Treatment.id)


def get_treatment(*, session: Session, slug: str) -> Treatment:
    treatment = session.scalar(treatments_query().where(Treatment.slug == slug))
    if treatment is None:
        raise NotFound(f"No treatment '{slug}'.", code="treatment_not_found")
    return treatment


def _treatment_values(session: Session, data: dict) -> dict:
    values = {k: v for k, v in data.items() if k not in ("price", "concerns")}
    if "price" in data:
        values["price_amount"] = amount_of(data["price"], "price")
    if "concerns" in data:
        values["concerns"] = concerns_by_slug(session, data["concerns"])
    return values


def create_treatment(*, session: Session, actor: User, data: dict) -> Treatment:
    ensure_free(session, Treatment.slug, data["slug"], "slug", "slug_taken")
    treatment = Treatment(currency=shop_currency(), **_treatment_values(session, data))
    session.add(treatment)
    flush_unique(session, "slug", "slug_taken")
    written(session, actor, "treatment.create", "treatment", treatment.id,
            None, treatment_snapshot(treatment))
    return treatment


def update_treatment(*, session: Session, actor: User, slug: str, data: dict) -> Treatment:
    treatment = get_treatment(session=session, slug=slug)
    if data.get("slug", slug) != slug:
        ensure_free(session, Treatment.slug, data["slug"], "slug", "slug_taken")
    before = treatment_snapshot(treatment)
    values = _treatment_values(session, data)
    changed = assign(treatment, values, ("slug", "name", "description", "duration_minutes",
                                         "price_amount"))
    if "concerns" in values and {c.slug for c in values["concerns"]} != set(before["concerns"]):
        treatment.concerns = values["concerns"]
        changed = True
    if changed:
        flush_unique(session, "slug", "slug_taken")
        written(session, actor, "treatment.update", "treatment", treatment.id,
                before, treatment_snapshot(treatment))
    return treatment


def set_treatment_status(*, session: Session, actor: User, slug: str, action: str) -> Treatment:
    treatment = get_treatment(session=session, slug=slug)
    target = STATUS_ACTIONS[action]
    if treatment.status != target:
        before = treatment_snapshot(treatment)
        treatment.status = target
        session.flush()
        written(session, actor, f"treatment.{action}", "treatment", treatment.id,
                before, treatment_snapshot(treatment))
    return treatment
