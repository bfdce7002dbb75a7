"""Lean catalogue reads: the JSON the schemas document, without ORM objects or marshmallow.

The product page and the product detail are what shoppers' phones ask for most, and every
response-cache miss builds one. A profile of a page of 24 read the way the rest of the shop
reads (ORM + marshmallow) spent most of its time building ORM objects and walking them with
marshmallow. Here three Core queries (the rows, their variants with stock, their concerns and
skin types) fill plain dicts in the schemas' field order: a product's detail, a page on
SQLite, and the product cards a page on PostgreSQL is made of (cards.py).
ProductSummarySchema and ProductSchema stay the OpenAPI documentation;
tests/catalogue/test_listing.py holds every path to the output the schemas give.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence

from flask import g
from sqlalchemy import (
    Integer,
    Row,
    Select,
    bindparam,
    func,
    literal,
    literal_column,
    null,
    select,
    union_all,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, scoped_session

from shop.catalogue.models import (
    AVAILABLE_DISPLAY_CAP,
    Category,
    Concern,
    Product,
    ProductSkinType,
    Variant,
    product_concerns,
)
from shop.catalogue.services import (
    PRODUCTS,
    ProductFilters,
    apply_filters,
    filter_params,
    filter_shape,
    is_ranked,
    listed_columns,
    reads_in_sort_order,
    sort_keys,
)
from shop.db import PLAN_WITH_VALUES, reader_engine
from shop.errors import NotFound
from shop.inventory.models import StockLevel

SUMMARY_COLUMNS = (
    Product.id, Product.slug, Product.name, Category.slug.label("category_slug"),
    Category.name.label("category_name"), Product.short_description, Product.routine_step,
    Product.time_of_use, Product.image_urls,
)
DETAIL_COLUMNS = (*SUMMARY_COLUMNS, Product.description, Product.how_to_use,
                  Product.key_ingredients)


PAGE_STATEMENTS_MAX = 512
READER_KEY = "shop_catalogue_reader"  # on flask.g: the app context's read connection
_page_statements: dict[tuple, Select] = {}


def _ordered(columns, keys: list) -> list:
    return [columns[f"key_{n}"].desc() if descending else columns[f"key_{n}"].asc()
            for n, (_, descending) in enumerate(keys)]


# In the SQL text, not a parameter: a plan made without the values (psycopg prepares what
# runs often) took `status = $1` for a selective filter and scanned the status index whole.
ACTIVE = literal_column("'active'")


def _matching(session: Session, filters: ProductFilters, *columns, walk: bool = False) -> Select:
    listed = listed_columns(session, filters, walk=walk)
    if listed is PRODUCTS:
        return apply_filters(session, select(*columns).where(Product.status == ACTIVE), filters)
    # (the listings and search terms hold active products only)
    return apply_filters(session, select(*columns).select_from(listed.id.table), filters,
                         listed)


def _total(session: Session, filters: ProductFilters):
    """How many products match, counted up to count_limit (page_params)."""
    counted = _matching(session, filters, literal(1)).limit(bindparam("count_limit", type_=Integer))
    return select(func.count()).select_from(counted.subquery("counted")).scalar_subquery()


def _keys(session: Session, filters: ProductFilters, *, walk: bool = False) -> list:
    return sort_keys(session, filters, listed_columns(session, filters, walk=walk))


def page_subquery(session: Session, filters: ProductFilters, *, walk: bool = False):
    """The page's product ids with their sort keys (key_0, key_1...) and the matches counted
    up to count_limit (total), in no order: callers order by the keys (ordered_by_keys).

    On PostgreSQL without a search, product_listings: the page walks the index of the
    filters' facet in the sort's order and stops after the page, and the total counts the
    facet's matches in another index, up to count_limit (migration 0012). A one-word search
    ranked by relevance does the same in product_search_terms: the word's rows in relevance
    order, counted in the same index (migration 0013).

    Otherwise the first count_limit matches, in no order, are a materialised CTE that the
    count and the page read (for a one-word search sorted by a column, from the word's rows
    of product_search_terms). When that is all of them (a small catalogue, narrow filters) it
    is the page. When more match (needs_walk), the page sorted by a column is read again by
    walking the sort's index of products (walk=True, no total), stopping after the page. A
    search of several words has no index in its relevance order: its first count_limit
    matches are ranked."""
    keys = _keys(session, filters, walk=walk)
    key_columns = [key.label(f"key_{n}") for n, (key, _) in enumerate(keys)]
    limit = bindparam("limit", type_=Integer)
    offset = bindparam("offset", type_=Integer)
    product_id = listed_columns(session, filters, walk=walk).id.label("product_id")
    in_sort_order = reads_in_sort_order(session, filters)
    if walk or in_sort_order:
        total = _total(session, filters) if in_sort_order else null()
        return (_matching(session, filters, product_id, *key_columns, total.label("total"),
                          walk=walk)
                .order_by(*(key.desc() if descending else key.asc() for key, descending in keys))
                .limit(limit).offset(offset).subquery("page"))
    matched = (_matching(session, filters, product_id, *key_columns)
               .limit(bindparam("count_limit", type_=Integer))
               .cte("matched").prefix_with("MATERIALIZED", dialect="postgresql"))
    total = select(func.count()).select_from(matched).scalar_subquery()
    return (select(matched, total.label("total")).order_by(*_ordered(matched.c, keys))
            .limit(limit).offset(offset).subquery("page"))


def needs_walk(session: Session, filters: ProductFilters, counted: int) -> bool:
    """Whether more products match than the first query read (page_subquery)."""
    return (counted > _offset(filters) + filters.total_limit
            and not is_ranked(session, filters) and not reads_in_sort_order(session, filters))


def ordered_by_keys(session: Session, filters: ProductFilters, page) -> list:
    return _ordered(page.c, _keys(session, filters))


def cached_statement(cache: dict[tuple, Select], session: Session, filters: ProductFilters,
                     build, *, walk: bool = False) -> Select:
    """The statement `build` makes for this shape of filters, built once: a reused statement
    keeps its compile cache key memoised (building and keying it was a sixth of a cache
    miss). A walk is planned for its values every time (shop.db.plan_with_values)."""
    shape = (*filter_shape(session, filters), walk)
    stmt = cache.get(shape)
    if stmt is None:
        stmt = build(session, filters, walk=walk)
        if walk:
            stmt = stmt.execution_options(**{PLAN_WITH_VALUES: True})
        if len(cache) >= PAGE_STATEMENTS_MAX:
            cache.clear()
        cache[shape] = stmt
    return stmt


def _build_page_statement(session: Session, filters: ProductFilters, *, walk: bool) -> Select:
    """The page's rows: the cut page joined to the products' other columns by primary key."""
    page = page_subquery(session, filters, walk=walk)
    return (
        select(*SUMMARY_COLUMNS, page.c.total)
        .select_from(page)
        .join(Product, Product.id == page.c.product_id)
        .join(Category, Category.id == Product.category_id)
        .order_by(*ordered_by_keys(session, filters, page))
    )


def _page_statement(session: Session, filters: ProductFilters, *, walk: bool = False) -> Select:
    return cached_statement(_page_statements, session, filters, _build_page_statement,
                            walk=walk)


def read_without_transaction(session: Session) -> Connection:
    """A connection for the catalogue's reads: when the session has no transaction and would
    take its connection from the engine, one in autocommit (on PostgreSQL from the engine's
    autocommit twin, shop.db.attach_reader_engine), the same one for the rest of the app
    context (close_reader returns it to its pool); otherwise the session's (tests bind it to
    a connection already in a transaction).

    Reads need no transaction: in autocommit the driver skips BEGIN and ROLLBACK, two round
    trips of a cache miss. More: psycopg forgets every prepared statement of a connection
    when it sees a ROLLBACK, so the ROLLBACK ending a read-only request made the next
    requests plan their queries again (2.8 instead of 1.7 ms of database CPU per page). And
    the connection is not the session's: opening and ending the session's transaction around
    it cost 15% of a cache miss's CPU (a profile of the fifth session)."""
    current = session() if isinstance(session, scoped_session) else session
    bind = current.get_bind()
    if current.in_transaction() or not isinstance(bind, Engine):
        return current.connection()
    reader = g.get(READER_KEY)
    if reader is None or reader.closed:
        autocommit = reader_engine(bind)
        reader = (autocommit.connect() if autocommit is not None
                  else bind.connect().execution_options(isolation_level="AUTOCOMMIT"))
        setattr(g, READER_KEY, reader)
    return reader


def close_reader(_exc: BaseException | None = None) -> None:
    """teardown_appcontext: give the context's catalogue connection back to the pool, or
    discard it if it died (a database restart) so that the pool never hands it out again."""
    reader = g.pop(READER_KEY, None)
    if reader is None:
        return
    try:
        reader.close()
    except DBAPIError:
        reader.invalidate()


def product_page(*, session: Session, filters: ProductFilters) -> dict:
    """One page of active products matching the filters, as ProductPageSchema dumps it."""
    connection = read_without_transaction(session)
    rows, counted = read_page(session, filters, connection, _page_statement)
    return {"items": _products(connection, rows, detail=False), "page": filters.page,
            "per_page": filters.per_page, **page_total(filters, counted)}


def read_page(session: Session, filters: ProductFilters, connection: Connection,
              statement: Callable[..., Select]) -> tuple[Sequence[Row], int]:
    """The page's rows from `statement` (built on page_subquery) and the matches counted up
    to count_limit. Past the last page the count had no row to ride on: it is read again."""
    params = page_params(session, filters)
    rows = connection.execute(statement(session, filters), params).all()
    if rows:
        counted = rows[0].total
    elif filters.page == 1:
        counted = 0
    else:
        counted = connection.scalar(select(_total(session, filters)), params) or 0
    if needs_walk(session, filters, counted):
        rows = connection.execute(statement(session, filters, walk=True), params).all()
    return rows, counted


def page_total(filters: ProductFilters, counted: int) -> dict:
    """total and total_exact from a count that stopped at count_limit: past total_limit
    matches from the page's start, total is that many and only a lower bound."""
    most = _offset(filters) + filters.total_limit
    return {"total": min(counted, most), "total_exact": counted <= most}


def _offset(filters: ProductFilters) -> int:
    return (filters.page - 1) * filters.per_page


def page_params(session: Session, filters: ProductFilters) -> dict:
    return {**filter_params(session, filters), "limit": filters.per_page,
            "offset": _offset(filters),
            "count_limit": _offset(filters) + filters.total_limit + 1}


SUMMARIES = (
    select(*SUMMARY_COLUMNS).join(Category, Category.id == Product.category_id)
    .where(Product.id.in_(bindparam("product_ids", expanding=True)))
)


def product_summaries(session: Session, product_ids: list[int]) -> dict[int, dict]:
    """The products (whatever their status) as ProductSummarySchema dumps them, by id."""
    connection = read_without_transaction(session)
    rows = connection.execute(SUMMARIES, {"product_ids": product_ids}).all()
    return {row.id: product
            for row, product in zip(rows, _products(connection, rows, detail=False),
                                    strict=True)}


DETAIL_STATEMENT = (
    select(*DETAIL_COLUMNS).join(Category, Category.id == Product.category_id)
    .where(Product.slug == bindparam("slug"), Product.status == "active")
)


def product_detail(*, session: Session, slug: str) -> dict:
    """An active product as ProductSchema dumps it."""
    connection = read_without_transaction(session)
    row = connection.execute(DETAIL_STATEMENT, {"slug": slug}).one_or_none()
    if row is None:
        raise NotFound(f"No product '{slug}'.", code="product_not_found")
    return _products(connection, [row], detail=True)[0]


# Built once (as DETAIL_STATEMENT above): a statement with the same shape every time keeps
# SQLAlchemy's compile cache key memoised on the object (a profile showed statement building
# at a quarter of a cache miss). Stock is read by primary key per variant: an outer join to
# stock_levels made the planner hash the whole table for two dozen products.
UNITS = (select(StockLevel.on_hand - StockLevel.reserved)
         .where(StockLevel.variant_id == Variant.id).scalar_subquery())
VARIANTS = (
    select(Variant.product_id, Variant.id, Variant.sku, Variant.name, Variant.price_amount,
           Variant.currency, Variant.compare_at_amount, Variant.weight_grams, Variant.barcode,
           Variant.voucher_kind, UNITS.label("units"))
    .where(Variant.product_id.in_(bindparam("product_ids", expanding=True)),
           Variant.is_active.is_(True))  # an archived variant is no longer sold
    .order_by(Variant.product_id, Variant.position, Variant.id)
)
TAGS = union_all(  # concern slugs ("c") and skin types ("s"), each in the ORM's order
    select(product_concerns.c.product_id, literal("c").label("kind"),
           Concern.slug.label("value"))
    .join(Concern, Concern.id == product_concerns.c.concern_id)
    .where(product_concerns.c.product_id.in_(bindparam("product_ids", expanding=True))),
    select(ProductSkinType.product_id, literal("s").label("kind"),
           ProductSkinType.skin_type.label("value"))
    .where(ProductSkinType.product_id.in_(bindparam("product_ids", expanding=True))),
).order_by(literal_column("product_id"), literal_column("kind"), literal_column("value"))


def _variants(connection: Connection, product_ids: list[int]) -> dict[int, list[dict]]:
    """Every variant of the products (as Product.variants holds them), with availability."""
    variants: dict[int, list[dict]] = defaultdict(list)
    for (product_id, id_, sku, name, price, currency, compare_at, weight, barcode, voucher_kind,
         stock) in connection.execute(VARIANTS, {"product_ids": product_ids}):
        if voucher_kind is not None:  # vouchers are issued, not stocked (Variant.available_units)
            units = AVAILABLE_DISPLAY_CAP
        else:  # no stock row: none available
            units = max(stock, 0) if stock is not None else 0
        variants[product_id].append({
            "id": id_, "sku": sku, "name": name,
            "price": {"amount": price, "currency": currency},
            "compare_at_price": None if compare_at is None
            else {"amount": compare_at, "currency": currency},
            "weight_grams": weight, "barcode": barcode, "in_stock": units > 0,
            "available": min(units, AVAILABLE_DISPLAY_CAP),
        })
    return variants


def _tags(connection: Connection, product_ids: list[int]) -> tuple[dict, dict]:
    """Concern slugs and skin types of the products."""
    by_kind: dict[str, dict[int, list[str]]] = {"c": defaultdict(list), "s": defaultdict(list)}
    for product_id, kind, value in connection.execute(TAGS, {"product_ids": product_ids}):
        by_kind[kind][product_id].append(value)
    return by_kind["c"], by_kind["s"]


def _products(connection: Connection, rows: Sequence[Row], *, detail: bool) -> list[dict]:
    if not rows:
        return []
    ids = [row.id for row in rows]
    variants = _variants(connection, ids)
    concerns, skin_types = _tags(connection, ids)
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
