"""Catalogue CSV import: check every row against the file and the database, then write.

Nothing is written unless every row passes; the problem response lists each bad row with
its line number and the messages per column.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from shop.accounts.models import User
from shop.admin.catalogue import products as product_services
from shop.admin.catalogue.services import (
    assign,
    category_snapshot,
    concerns_by_slug,
    product_snapshot,
    shop_currency,
    treatment_snapshot,
    variant_snapshot,
)
from shop.admin.catalogue.transfer import (
    COLUMNS,
    KINDS,
    PRODUCT_COLUMNS,
    VARIANT_COLUMNS,
    ParsedRow,
    parse_row,
)
from shop.audit import record as audit_record
from shop.catalogue.models import Category, Concern, Product, Treatment, Variant
from shop.catalogue_version import bump_catalogue_version, current_catalogue_version
from shop.csvio import read_csv
from shop.errors import ValidationFailed
from shop.inventory import services as inventory

VARIANT_TO_MODEL = {"variant_name": "name", "price": "price_amount",
                    "compare_at_price": "compare_at_amount", "cost": "cost_amount",
                    "weight_grams": "weight_grams", "barcode": "barcode",
                    "variant_position": "position", "variant_active": "is_active",
                    "low_stock_threshold": "low_stock_threshold"}
# A blank low_stock_threshold leaves it as it is (variants without stock have none).
NOT_BLANK = {"price", "variant_name", "variant_position", "variant_active", "duration_minutes"}


@dataclass
class ImportReport:
    dry_run: bool
    rows: int = 0
    created: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    updated: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    unchanged: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    catalogue_version: int = 0

    def count(self, kind: str, created: bool, changed: bool) -> None:
        bucket = self.created if created else self.updated if changed else self.unchanged
        bucket[kind] += 1

    @property
    def changed(self) -> bool:
        return any(self.created.values()) or any(self.updated.values())


@dataclass
class Existing:
    """The database rows the file refers to, loaded once."""

    categories: set[str]
    concerns: set[str]
    products: dict[str, Product]
    variants: dict[str, Variant]
    treatments: dict[str, Treatment]


# --- reading and checking -------------------------------------------------------------------


def _file_error(message: str) -> ValidationFailed:
    return ValidationFailed(message, code="catalogue_import_invalid", errors={"file": [message]})


def parse_file(text: str) -> list[ParsedRow]:
    try:
        header, raw_rows = read_csv(text)
    except csv.Error as exc:  # a cell beyond the csv module's 131,072 characters
        raise _file_error(f"The file could not be read as CSV: {exc}.") from exc
    unknown = [name for name in header if name not in COLUMNS]
    if not header or "type" not in header or "slug" not in header:
        raise _file_error("The first line must be a header with at least `type` and `slug`.")
    if unknown:
        raise _file_error(f"Unknown columns: {', '.join(unknown)}.")
    if len(set(header)) != len(header):
        raise _file_error("A column appears twice in the header.")
    return [parse_row(line, cells) for line, cells in raw_rows]


def _load_existing(session: Session, rows: list[ParsedRow]) -> Existing:
    slugs = {kind: {r.data["slug"] for r in rows if r.type == kind and not r.errors}
             for kind in ("product", "treatment")}
    skus = [r.data["sku"] for r in rows if r.type == "product" and r.data.get("sku")]
    products = session.scalars(
        select(Product).where(Product.slug.in_(slugs["product"])).options(
            selectinload(Product.variants).joinedload(Variant.stock_level),
            selectinload(Product.concerns), selectinload(Product.skin_type_rows),
        )
    ).unique()
    variants = session.scalars(
        select(Variant).where(Variant.sku.in_(skus)).options(selectinload(Variant.product))
    )
    treatments = session.scalars(
        select(Treatment).where(Treatment.slug.in_(slugs["treatment"]))
        .options(selectinload(Treatment.concerns))
    )
    return Existing(
        categories=set(session.scalars(select(Category.slug))),
        concerns=set(session.scalars(select(Concern.slug))),
        products={p.slug: p for p in products},
        variants={v.sku: v for v in variants},
        treatments={t.slug: t for t in treatments},
    )


def _check_common(row: ParsedRow, existing: Existing) -> None:
    data = row.data
    if data.get("currency") is not None and data["currency"] != shop_currency():
        row.error("currency", f"Must be {shop_currency()}.")
    for column in NOT_BLANK:
        if column in data and data[column] is None:
            row.error(column, "Must not be blank.")
    for slug in data.get("concerns") or []:
        if slug not in existing.concerns:
            row.error("concerns", f"No concern '{slug}'.")


def _require(row: ParsedRow, columns: tuple[str, ...], what: str) -> None:
    for column in columns:
        if row.data.get(column) in (None, ""):
            row.error(column, f"Required for a new {what}.")


def _check_unique(rows: list[ParsedRow]) -> None:
    seen: dict[tuple[str, str], int] = {}
    for row in rows:
        if row.errors:
            continue
        keys = [("slug", row.data["slug"])] if row.type != "product" else []
        if row.type == "product" and row.data.get("sku"):
            keys.append(("sku", row.data["sku"]))
        for column, value in keys:
            first = seen.setdefault((row.type if column == "slug" else "sku", value), row.line)
            if first != row.line:
                row.error(column, f"Already on line {first}.")


def _check_product_group(group: list[ParsedRow], existing: Existing, categories: set[str]) -> None:
    first = group[0]
    product = existing.products.get(first.data["slug"])
    shared = {k: v for k, v in first.data.items() if k in PRODUCT_COLUMNS}
    for row in group[1:]:
        for column in PRODUCT_COLUMNS:
            if row.data.get(column) != shared.get(column):
                row.error(column, f"Differs from line {first.line} of the same product.")
    if product is None:
        _require(first, ("name", "category"), "product")
    if shared.get("category") and shared["category"] not in categories:
        first.error("category", f"No category '{shared['category']}'.")
    active_skus = {v.sku for v in product.variants if v.is_active} if product else set()
    for row in group:
        _check_variant_row(row, product, existing, len(group))
        sku = row.data.get("sku")
        if sku:
            current = existing.variants.get(sku)
            active = row.data.get("variant_active", current.is_active if current else True)
            (active_skus.add if active else active_skus.discard)(sku)
    status = shared.get("status", product.status if product else "draft")
    if status == "active" and not active_skus:
        first.error("status", "An active product needs at least one active variant.")


def _check_variant_row(row: ParsedRow, product, existing: Existing, group_size: int) -> None:
    data, sku = row.data, row.data.get("sku")
    if not sku:
        if group_size > 1 or any(data.get(c) is not None for c in VARIANT_COLUMNS):
            row.error("sku", "Required on every variant row.")
        return
    variant = existing.variants.get(sku)
    if variant is not None and variant.product.slug != data["slug"]:
        row.error("sku", f"Belongs to product '{variant.product.slug}'.")
        return
    if variant is None:
        _require(row, ("variant_name", "price"), "variant")
    price = data.get("price", variant.price_amount if variant else None)
    compare_at = data.get("compare_at_price", variant.compare_at_amount if variant else None)
    if price is not None and compare_at is not None and compare_at <= price:
        row.error("compare_at_price", "Must be above the price.")


def check_rows(session: Session, rows: list[ParsedRow]) -> None:
    """Fill each row's errors; raise the row-level report if any row has one."""
    existing = _load_existing(session, rows)
    _check_unique(rows)
    categories = existing.categories | {r.data["slug"] for r in rows
                                        if r.type == "category" and not r.errors}
    groups: dict[str, list[ParsedRow]] = defaultdict(list)
    for row in rows:
        if row.errors:
            continue
        _check_common(row, existing)
        if row.type == "product":
            groups[row.data["slug"]].append(row)
        elif row.type == "category" and row.data["slug"] not in existing.categories:
            _require(row, ("name",), "category")
        elif row.type == "treatment" and row.data["slug"] not in existing.treatments:
            _require(row, ("name", "duration_minutes", "price"), "treatment")
    for group in groups.values():
        _check_product_group(group, existing, categories)
    bad = [row for row in rows if row.errors]
    if bad:
        raise ValidationFailed(
            f"{len(bad)} of {len(rows)} rows have errors; nothing was imported.",
            code="catalogue_import_invalid",
            errors={f"line {row.line}": row.errors for row in bad},
            rows=[{"line": row.line, "type": row.type, "key": row.key, "errors": row.errors}
                  for row in bad],
        )


# --- writing ----------------------------------------------------------------------------------


class _Writer:
    """Applies checked rows; audits each created or changed row, counts the rest."""

    def __init__(self, session: Session, actor: User, report: ImportReport) -> None:
        self.session, self.actor, self.report = session, actor, report

    def audit(self, action: str, entity: str, row_id: int, before, after) -> None:
        audit_record(session=self.session, actor=self.actor, action=f"{entity}.{action}",
                     entity=entity, entity_id=str(row_id), before=before, after=after)

    def category(self, data: dict) -> None:
        category = self.session.scalar(select(Category).where(Category.slug == data["slug"]))
        if category is None:
            category = Category(**data)
            self.session.add(category)
            self.session.flush()
            self.audit("create", "category", category.id, None, category_snapshot(category))
            return self.report.count("categories", created=True, changed=True)
        before = category_snapshot(category)
        changed = assign(category, data, ("name", "description", "position"))
        if changed:
            self.session.flush()
            self.audit("update", "category", category.id, before, category_snapshot(category))
        self.report.count("categories", created=False, changed=changed)

    def product(self, rows: list[ParsedRow], existing: Existing) -> None:
        data = {k: v for k, v in rows[0].data.items() if k in PRODUCT_COLUMNS}
        product = existing.products.get(data["slug"])
        created = product is None
        if created:
            product = Product(slug=data["slug"], status="draft", variants=[], concerns=[],
                              **product_services.new_product_defaults())
            product.category = self.session.scalar(
                select(Category).where(Category.slug == data["category"]))
            self.session.add(product)
        before = None if created else product_snapshot(product)
        changed = product_services.apply_product_fields(self.session, product, data) or created
        self.session.flush()
        if changed:
            self.audit("create" if created else "update", "product", product.id,
                       before, product_snapshot(product))
        self.report.count("products", created=created, changed=changed)
        for row in rows:
            if row.data.get("sku"):
                self.variant(product, row.data, existing.variants.get(row.data["sku"]))

    def variant(self, product: Product, row: dict, variant: Variant | None) -> None:
        values = {VARIANT_TO_MODEL[k]: v for k, v in row.items() if k in VARIANT_TO_MODEL}
        created = variant is None
        if created:
            threshold = values.pop("low_stock_threshold", None)
            threshold = 5 if threshold is None else threshold
            variant = Variant(sku=row["sku"], currency=shop_currency(),
                              position=values.pop("position", len(product.variants)), **values)
            product.variants.append(variant)
            inventory.create_level(session=self.session, variant=variant,
                                   low_stock_threshold=threshold)
            self.session.flush()
            self.audit("create", "variant", variant.id, None, variant_snapshot(variant))
            return self.report.count("variants", created=True, changed=True)
        before = variant_snapshot(variant)
        changed = product_services.apply_variant_fields(variant, values)
        if changed:
            self.session.flush()
            self.audit("update", "variant", variant.id, before, variant_snapshot(variant))
        self.report.count("variants", created=False, changed=changed)

    def treatment(self, data: dict, treatment: Treatment | None) -> None:
        values = {("price_amount" if k == "price" else k): v for k, v in data.items()
                  if k not in ("concerns", "currency")}
        created = treatment is None
        if created:
            treatment = Treatment(currency=shop_currency(), status="draft", concerns=[])
            self.session.add(treatment)
        before = None if created else treatment_snapshot(treatment)
        changed = assign(treatment, values, ("slug", "name", "description", "status",
                                             "duration_minutes", "price_amount"))
        if "concerns" in data and set(data["concerns"]) != {c.slug for c in treatment.concerns}:
            treatment.concerns = concerns_by_slug(self.session, data["concerns"])
            changed = True
        changed = changed or created
        self.session.flush()
        if changed:
            self.audit("create" if created else "update", "treatment", treatment.id,
                       before, treatment_snapshot(treatment))
        self.report.count("treatments", created=created, changed=changed)


def import_catalogue(
    *, session: Session, actor: User, text: str, dry_run: bool = False
) -> ImportReport:
    """Check the whole file, then create and update what it describes (all or nothing).

    A dry run does the same work inside a savepoint and rolls it back: the report is exact.
    """
    rows = parse_file(text)
    check_rows(session, rows)
    report = ImportReport(dry_run=dry_run, rows=len(rows))
    savepoint = session.begin_nested() if dry_run else None
    try:
        _write(session, actor, rows, report)
    finally:
        if savepoint is not None:
            savepoint.rollback()
    report.catalogue_version = current_catalogue_version(session)
    return report


def _write(session: Session, actor: User, rows: list[ParsedRow], report: ImportReport) -> None:
    existing = _load_existing(session, rows)
    writer = _Writer(session, actor, report)
    groups: dict[str, list[ParsedRow]] = defaultdict(list)
    for row in rows:
        if row.type == "category":
            writer.category(row.data)
        elif row.type == "product":
            groups[row.data["slug"]].append(row)
    for group in groups.values():
        writer.product(group, existing)
    for row in rows:
        if row.type == "treatment":
            writer.treatment(row.data, existing.treatments.get(row.data["slug"]))
    if report.changed:
        bump_catalogue_version(session=session)
