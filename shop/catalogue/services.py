"""Catalogue reads: filtered product search, look-ups, and the clinic's routine builder."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import (
    ColumnElement,
    Exists,
    Select,
    String,
    Text,
    and_,
    bindparam,
    case,
    exists,
    false,
    func,
    literal_column,
    or_,
    select,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session, selectinload

from shop.catalogue.models import (
    Category,
    Concern,
    Product,
    ProductSkinType,
    Treatment,
    Variant,
    product_concerns,
    product_listings,
    product_search_terms,
    treatment_concerns,
)
from shop.db import is_postgresql
from shop.errors import NotFound, ValidationFailed
from shop.inventory.models import StockLevel

ROUTINE_SLOTS = {
    "am": (("cleanse", ("am", "both")), ("treat", ("am", "both")), ("hydrate", ("am", "both"))),
    "pm": (("cleanse", ("pm", "both")), ("treat", ("pm", "both")), ("hydrate", ("pm", "both"))),
    "weekly": (("mask", ("weekly", "pm", "both", "am")),),
}
ROUTINE_ADVICE = [
    "Cleanse for two minutes morning and evening with a brush suited to your skin type.",
    "Choose light, non-comedogenic products: a pore cleansing gel and a hyaluronic acid serum.",
    "Once a week, a clay mask draws out the oil and impurities that make pores look larger.",
]


@dataclass(frozen=True)
class ProductFilters:
    category: str | None = None
    skin_type: str | None = None
    concern: str | None = None
    q: str | None = None
    min_price: int | None = None
    max_price: int | None = None
    in_stock: bool | None = None
    sort: str | None = None
    page: int = 1
    per_page: int = 24
    total_limit: int = 1000  # matches counted past the page's start (CATALOGUE_TOTAL_LIMIT)


@dataclass(frozen=True)
class ListedColumns:
    """The columns the list filters and sorts read: the products' own, those of
    product_listings (one facet's rows: `facet` says which), where pages without a search
    are read on PostgreSQL, or those of product_search_terms (one word's rows: `term`),
    where one-word searches are (listed_columns)."""

    id: ColumnElement
    name: ColumnElement
    category_id: ColumnElement
    created_at: ColumnElement
    min_active_price: ColumnElement
    max_active_price: ColumnElement
    facet: ColumnElement | None = None
    tags: ColumnElement | None = None  # the products.facets array
    term: ColumnElement | None = None
    rank: ColumnElement | None = None


PRODUCTS = ListedColumns(Product.id, Product.name, Product.category_id, Product.created_at,
                         Product.min_active_price, Product.max_active_price,
                         tags=Product.facets)
LISTINGS = ListedColumns(*(product_listings.c[name] for name in (
    "product_id", "name", "category_id", "created_at", "min_active_price", "max_active_price",
    "facet")))
TERMS = ListedColumns(
    *(product_search_terms.c[name] for name in (
        "product_id", "name", "category_id", "created_at", "min_active_price",
        "max_active_price")),
    tags=product_search_terms.c.facets, term=product_search_terms.c.term,
    rank=product_search_terms.c.rank)


def listed_columns(session: Session, filters: ProductFilters, *,
                   walk: bool = False) -> ListedColumns:
    """Where the page is read from: on PostgreSQL, product_listings without a search and
    product_search_terms for a one-word search, except when a search sorted by a column
    walks that column's index of products (listing.page_subquery); products otherwise."""
    if not is_postgresql(session):
        return PRODUCTS
    if not filters.q:
        return LISTINGS
    if not is_one_word(filters.q) or (walk and not is_ranked(session, filters)):
        return PRODUCTS
    return TERMS


def reads_in_sort_order(session: Session, filters: ProductFilters) -> bool:
    """Whether the page is read in its sort's order from an index of a table the triggers
    keep (product_listings, or product_search_terms for one word by relevance), so that it is
    cut in one statement with its count."""
    listed = listed_columns(session, filters)
    return listed is LISTINGS or (listed is TERMS and is_ranked(session, filters))


def is_one_word(q: str) -> bool:
    """An ASCII word or number: to PostgreSQL's english configuration one lexeme or none (a
    stop word), as product_search_terms holds them (migration 0013)."""
    word = q.strip()
    return word.isascii() and word.isalnum()


def facet_key(filters: ProductFilters) -> str:
    """The product_listings facet holding exactly the products of the skin type and concern
    filters (migration 0012)."""
    return "&".join(facet_tags(filters)) or "all"


def is_category_facet(filters: ProductFilters) -> bool:
    """A category alone (no skin type or concern) has its own facet in product_listings,
    'category:<id>' (migration 0014)."""
    return bool(filters.category) and not (filters.skin_type or filters.concern)


def product_loader_options() -> list:
    """The eager loads a product needs to be dumped with ProductSummarySchema."""
    return [
        # an archived variant is no longer sold (product pages leave it out too)
        selectinload(Product.variants.and_(Variant.is_active.is_(True)))
        .joinedload(Variant.stock_level),
        selectinload(Product.concerns),
        selectinload(Product.skin_type_rows),
    ]


def _sellable_variant(*conditions, product_id: ColumnElement = Product.id) -> Exists:
    """An active variant of the product meeting the conditions, probed per product. OFFSET 0
    keeps PostgreSQL from hashing every such variant of the catalogue instead (a sequential
    scan, whose cost grows with the catalogue) for a page that probes a few dozen products."""
    return (select(Variant.id)
            .where(Variant.product_id == product_id, Variant.is_active, *conditions)
            .offset(0).exists())


def _like_pattern(term: str) -> str:
    escaped = term.replace("/", "//").replace("%", "/%").replace("_", "/_")
    return f"%{escaped}%"


def _search_terms(q: str) -> list[str]:
    return [term for term in q.lower().split() if term]


def _tsquery(q: str):
    return func.websearch_to_tsquery(literal_column("'english'::regconfig"),
                                     bindparam("q", q, type_=String))


def _search_term(q: str):
    """The lexeme of a one-word search (NULL for a stop word: it matches nothing, as its
    tsquery does)."""
    vector = func.to_tsvector(literal_column("'english'::regconfig"),
                              bindparam("q", q, type_=String))
    return func.tsvector_to_array(vector, type_=postgresql.ARRAY(Text()))[1]


def _search_condition(session: Session, q: str, columns: ListedColumns):
    if columns.term is not None:
        return columns.term == _search_term(q)
    if is_postgresql(session):
        return Product.search_vector.op("@@")(_tsquery(q))
    return and_(*(Product.search_text.like(bindparam(f"q_{n}", _like_pattern(term)), escape="/")
                  for n, term in enumerate(_search_terms(q))))


def apply_filters(session: Session, stmt: Select, filters: ProductFilters,
                  columns: ListedColumns = PRODUCTS) -> Select:
    """Narrow a select over products (or product_listings, with columns=LISTINGS) to the
    filters (the caller may join categories).

    Every value is a named bind parameter, so a statement built for one set of filters runs
    any other set of the same shape with filter_params() (see listing.py). On PostgreSQL the
    skin type, concern and single price bounds read the columns triggers keep on products
    (migration 0010) instead of joining skin types, concerns and variants; the listings
    hold one facet per skin type and concern pair, and one per category, which one
    equality picks."""
    postgres = is_postgresql(session)
    if filters.category:
        category_id = (select(Category.id).where(Category.slug == bindparam("category",
                                                                           filters.category))
                       .correlate(None).scalar_subquery())
        if columns.facet is not None and is_category_facet(filters):
            stmt = stmt.where(columns.facet == func.concat("category:", category_id))
        else:
            stmt = stmt.where(columns.category_id == category_id)
    if columns.facet is not None and not is_category_facet(filters):
        stmt = stmt.where(columns.facet == bindparam("facet", facet_key(filters)))
    elif postgres and (filters.skin_type or filters.concern):
        stmt = stmt.where(_has_facets(filters, columns))
    else:
        stmt = _join_tags(stmt, filters)
    if filters.q:
        stmt = stmt.where(_search_condition(session, filters.q, columns))
    return _in_stock(_price_range(stmt, filters, postgres, columns), filters, columns)


def _has_facets(filters: ProductFilters, columns: ListedColumns) -> ColumnElement:
    """products.facets (or a search term's copy) holds every tag asked for: on products one
    GIN index scan for skin type and concern together. The tags are one parameter
    (facet_tags), whose value the planner reads the column's statistics for when it chooses
    between that scan and walking a sort order's index."""
    tags = bindparam("facets", facet_tags(filters), type_=postgresql.ARRAY(Text()))
    return columns.tags.op("@>")(tags)


def facet_tags(filters: ProductFilters) -> list[str]:
    """The tags of products.facets (migration 0011) that the filters ask for."""
    tags = [f"skin:{filters.skin_type}"] if filters.skin_type else []
    return tags + ([f"concern:{filters.concern}"] if filters.concern else [])


def _join_tags(stmt: Select, filters: ProductFilters) -> Select:
    if filters.skin_type:
        stmt = stmt.where(
            exists().where(
                ProductSkinType.product_id == Product.id,
                ProductSkinType.skin_type == bindparam("skin_type", filters.skin_type),
            )
        )
    if filters.concern:
        stmt = stmt.where(
            exists().where(
                product_concerns.c.product_id == Product.id,
                product_concerns.c.concern_id == Concern.id,
                Concern.slug == bindparam("concern", filters.concern),
            )
        )
    return stmt


def _price_range(stmt: Select, filters: ProductFilters, postgres: bool,
                 columns: ListedColumns) -> Select:
    """Products with an active variant priced within the bounds. With one bound that is the
    product's highest (lowest) active price against it: on PostgreSQL a column of products.
    With both, one variant must lie between them, which the range alone tells only when
    one of its ends does."""
    bounds = []
    if filters.min_price is not None:
        minimum = bindparam("min_price", filters.min_price)
        bounds.append(Variant.price_amount >= minimum)
        if postgres:
            stmt = stmt.where(columns.max_active_price >= minimum)
    if filters.max_price is not None:
        maximum = bindparam("max_price", filters.max_price)
        bounds.append(Variant.price_amount <= maximum)
        if postgres:
            stmt = stmt.where(columns.min_active_price <= maximum)
    if bounds and not postgres:
        stmt = stmt.where(_sellable_variant(*bounds, product_id=columns.id))
    elif len(bounds) == 2:
        # A product whose lowest or highest active price lies within the bounds has a variant
        # there; only one priced across them is probed for a variant in between.
        stmt = stmt.where(or_(columns.min_active_price >= minimum,
                              columns.max_active_price <= maximum,
                              _sellable_variant(*bounds, product_id=columns.id)))
    return stmt


def _in_stock(stmt: Select, filters: ProductFilters, columns: ListedColumns) -> Select:
    if filters.in_stock is not None:
        in_stock = _sellable_variant(
            StockLevel.variant_id == Variant.id, StockLevel.on_hand > StockLevel.reserved,
            product_id=columns.id,
        ) | _sellable_variant(  # vouchers are never out of stock
            Variant.voucher_kind.is_not(None), product_id=columns.id)
        stmt = stmt.where(in_stock if filters.in_stock else ~in_stock)
    return stmt


def filter_shape(session: Session, filters: ProductFilters) -> tuple:
    """What decides the SQL of apply_filters() and apply_sort(), values aside."""
    terms = None
    if filters.q and is_postgresql(session):
        terms = 1 if is_one_word(filters.q) else -1
    elif filters.q:
        terms = len(_search_terms(filters.q))
    return (session.get_bind().dialect.name, bool(filters.category), bool(filters.skin_type),
            bool(filters.concern), terms, filters.min_price is not None,
            filters.max_price is not None, filters.in_stock, filters.sort)


def filter_params(session: Session, filters: ProductFilters) -> dict:
    """The bind parameter values apply_filters() and apply_sort() name."""
    params = {"category": filters.category, "skin_type": filters.skin_type,
              "concern": filters.concern, "min_price": filters.min_price,
              "max_price": filters.max_price}
    postgres = is_postgresql(session)
    if listed_columns(session, filters) is LISTINGS and not is_category_facet(filters):
        params["facet"] = facet_key(filters)
    elif postgres and (filters.skin_type or filters.concern):
        params["facets"] = facet_tags(filters)
    if filters.q and postgres:
        params["q"] = filters.q
    elif filters.q:
        params.update({f"q_{n}": _like_pattern(term)
                       for n, term in enumerate(_search_terms(filters.q))})
    return {name: value for name, value in params.items() if value is not None}


def _min_price():
    return (
        select(func.min(Variant.price_amount))
        .where(Variant.product_id == Product.id, Variant.is_active)
        .correlate(Product)
        .scalar_subquery()
    )


def is_ranked(session: Session, filters: ProductFilters) -> bool:
    """Ordered by full-text relevance: a search on PostgreSQL with no other sort asked for."""
    return bool(filters.q) and filters.sort in (None, "relevance") and is_postgresql(session)


def sort_keys(session: Session, filters: ProductFilters,
              columns: ListedColumns = PRODUCTS) -> list[tuple[ColumnElement, bool]]:
    """(expression, descending) pairs that order products for the filters' sort, ending in
    the id so that every page is stable."""
    sort = filters.sort or "name"
    if is_ranked(session, filters):
        rank = columns.rank  # a word's rank: the relevance of a search for that word alone
        if rank is None:
            rank = func.ts_rank(Product.search_vector, _tsquery(filters.q))
        return [(rank, True), (columns.name, False), (columns.id, False)]
    # the lowest active price: on PostgreSQL kept on products by triggers (migration 0010)
    min_price = columns.min_active_price if is_postgresql(session) else _min_price()
    orderings = {
        "price": [(min_price, False), (columns.name, False)],
        "-price": [(min_price, True), (columns.name, False)],
        "newest": [(columns.created_at, True), (columns.id, True)],
    }
    keys = orderings.get(sort, [(columns.name, False)])
    return keys if keys[-1][0] is columns.id else [*keys, (columns.id, False)]


def apply_sort(session: Session, stmt: Select, filters: ProductFilters) -> Select:
    return stmt.order_by(*(key.desc() if descending else key.asc()
                           for key, descending in sort_keys(session, filters)))


def list_categories(*, session: Session) -> list[Category]:
    stmt = select(Category).where(Category.status == "active")
    return list(session.scalars(stmt.order_by(Category.position, Category.name)))


def get_category(*, session: Session, slug: str) -> Category:
    category = session.scalar(
        select(Category).where(Category.slug == slug, Category.status == "active")
    )
    if category is None:
        raise NotFound(f"No category '{slug}'.", code="category_not_found")
    return category


def _treatments_query(concern: str | None) -> Select:
    stmt = select(Treatment).where(Treatment.status == "active")
    if concern:
        stmt = stmt.where(
            exists().where(
                treatment_concerns.c.treatment_id == Treatment.id,
                treatment_concerns.c.concern_id == Concern.id,
                Concern.slug == concern,
            )
        )
    return stmt.options(selectinload(Treatment.concerns)).order_by(Treatment.name, Treatment.id)


def list_treatments(
    *, session: Session, concern: str | None = None, page: int = 1, per_page: int = 24
) -> tuple[list[Treatment], int]:
    stmt = _treatments_query(concern)
    total = session.scalar(select(func.count()).select_from(stmt.subquery()))
    items = session.scalars(stmt.limit(per_page).offset((page - 1) * per_page))
    return list(items), total or 0


def get_treatment(*, session: Session, slug: str) -> Treatment:
    stmt = select(Treatment).where(Treatment.slug == slug, Treatment.status == "active")
    treatment = session.scalar(stmt.options(selectinload(Treatment.concerns)))
    if treatment is None:
        raise NotFound(f"No treatment '{slug}'.", code="treatment_not_found")
    return treatment


def _suits_skin(skin_type: str):
    """Products that list the skin type, or list none (suitable for every skin)."""
    return or_(
        exists().where(
            ProductSkinType.product_id == Product.id, ProductSkinType.skin_type == skin_type
        ),
        ~exists().where(ProductSkinType.product_id == Product.id),
    )


def _addresses(concern: str | None):
    if concern is None:
        return false()
    return exists().where(
        product_concerns.c.product_id == Product.id,
        product_concerns.c.concern_id == Concern.id,
        Concern.slug == concern,
    )


def _best_for_step(
    session: Session, skin_type: str, step: str, times: tuple[str, ...], concern: str | None
) -> int | None:
    """One indexed query per step: in stock first, then the concern, then the time of use."""
    in_stock = _sellable_variant(
        StockLevel.variant_id == Variant.id, StockLevel.on_hand > StockLevel.reserved
    )
    stmt = (
        select(Product.id)
        .where(
            Product.status == "active", Product.routine_step == step,
            Product.time_of_use.in_(times), _suits_skin(skin_type),
        )
        .order_by(
            case((in_stock, 0), else_=1),
            case((_addresses(concern), 0), else_=1),
            case({time: rank for rank, time in enumerate(times)}, value=Product.time_of_use),
            Product.name,
            Product.id,
        )
        .limit(1)
    )
    return session.scalar(stmt)


def _products_by_id(session: Session, ids: set[int]) -> dict[int, Product]:
    if not ids:
        return {}
    stmt = select(Product).where(Product.id.in_(ids)).options(*product_loader_options())
    return {product.id: product for product in session.scalars(stmt).unique()}


def build_routine(*, session: Session, skin_type: str, concern: str | None) -> dict:
    """The article's advice as data: AM, PM and weekly steps for a skin, plus treatments."""
    if concern and session.scalar(select(Concern.id).where(Concern.slug == concern)) is None:
        raise ValidationFailed(
            "Unknown concern.", errors={"concern": [f"No concern '{concern}'."]}
        )
    picks = {
        (slot, step): _best_for_step(session, skin_type, step, times, concern)
        for slot, steps in ROUTINE_SLOTS.items()
        for step, times in steps
    }
    products = _products_by_id(session, {pid for pid in picks.values() if pid is not None})
    routine = {
        slot: [{"step": step, "product": products.get(picks[(slot, step)])} for step, _ in steps]
        for slot, steps in ROUTINE_SLOTS.items()
    }
    treatments, _ = list_treatments(session=session, concern=concern, per_page=100)
    return {
        "skin_type": skin_type,
        "concern": concern,
        **routine,
        "treatments": treatments,
        "advice": ROUTINE_ADVICE,
    }
