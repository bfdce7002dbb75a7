"""Gift vouchers in the catalogue (seed/vouchers.yaml): the `gift-vouchers` category, one
product per treatment and the money voucher with its fixed amounts and a custom amount.

Voucher variants get no stock level: they are issued when paid for, never stocked or shipped.
Only missing rows are inserted, like the rest of the seed.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from shop.catalogue.models import Category, Product, Treatment, Variant


def _variant(row: dict, position: int, kind: str, treatment: Treatment | None) -> Variant:
    if kind == "treatment":
        price = treatment.price_amount
    elif row.get("custom_amount"):
        price = current_app.config["MONEY_VOUCHER_MIN"]
    else:
        price = row["price"]
    return Variant(
        sku=row["sku"], name=row["name"], price_amount=price,
        currency=current_app.config["SHOP_CURRENCY"], position=position,
        voucher_kind=kind, treatment_id=treatment.id if treatment else None,
        voucher_custom_amount=bool(row.get("custom_amount")),
    )


def _category(session: Session, row: dict) -> Category:
    category = session.scalar(select(Category).where(Category.slug == row["slug"]))
    if category is None:
        category = Category(**row)
        session.add(category)
    return category


def load_voucher_catalogue(*, session: Session, seed_dir: Path) -> int:
    """Insert the gift-voucher category and products that are missing; returns products made."""
    path = seed_dir / "vouchers.yaml"
    if not path.exists():
        return 0
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    category = _category(session, data["category"])
    treatments = {t.slug: t for t in session.scalars(select(Treatment))}
    rows = data.get("products") or []
    known = set(session.scalars(select(Product.slug).where(
        Product.slug.in_([row["slug"] for row in rows]))))
    created = 0
    for row in rows:
        if row["slug"] in known:
            continue
        treatment = treatments[row["treatment"]] if row["kind"] == "treatment" else None
        product = Product(
            slug=row["slug"], name=row["name"], category=category,
            short_description=row.get("short_description", ""),
            description=row.get("description", ""), image_urls=row.get("image_urls") or [],
            status=row.get("status", "active"), key_ingredients=[],
        )
        product.variants = [
            _variant(variant, position, row["kind"], treatment)
            for position, variant in enumerate(row["variants"])
        ]
        product.rebuild_search_text()
        session.add(product)
        created += 1
    session.flush()
    return created
