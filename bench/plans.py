"""EXPLAIN the catalogue's read queries on the bench database and check the indexes they use.

Runs the statements the app itself builds (shop/catalogue/listing.py) through
EXPLAIN (ANALYZE, FORMAT JSON) on the seeded, analysed bench catalogue, and compares each
plan with the indexes it must use. Which plan is right depends on the catalogue's size (a
sequential scan of a table that fits in a few pages beats any index), so each expectation
names the smallest catalogue it applies from.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from shop.catalogue import cards, listing, suggestions
from shop.catalogue.models import Product
from shop.catalogue.services import ProductFilters
from shop.extensions import db


@dataclass(frozen=True)
class Expectation:
    name: str
    uses: tuple[str, ...]  # index names that must appear in the plan
    from_products: int = 0  # applies to catalogues at least this large
    below_products: int | None = None  # and smaller than this (None: no upper bound)

    def applies(self, products: int) -> bool:
        return products >= self.from_products and (
            self.below_products is None or products < self.below_products)

    def sizes(self) -> str:
        if self.below_products is None:
            return f"from {self.from_products:,} products"
        return f"{self.from_products:,} to {self.below_products:,} products"


def _nodes(plan: dict):
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def indexes_used(plan: dict) -> set[str]:
    """The indexes of the plan's nodes that ran: a page's plan holds two branches, and
    PostgreSQL runs only one of them (listing.page_subquery)."""
    return {node["Index Name"] for node in _nodes(plan)
            if "Index Name" in node and node.get("Actual Loops", 1) > 0}


def _explain(statement, params: dict) -> tuple[dict, float]:
    sql = str(statement.params(**params).compile(
        db.engine, compile_kwargs={"literal_binds": True, "render_postcompile": True}))
    connection = db.session.connection()
    connection.exec_driver_sql("SELECT 1")  # (warm the connection: no first-use costs)
    row = connection.exec_driver_sql("EXPLAIN (ANALYZE, FORMAT JSON) " + sql).scalar_one()
    return row[0]["Plan"], row[0]["Execution Time"]


def _page(filters: ProductFilters):
    """The statement GET /products runs on PostgreSQL for these filters, and its values."""
    return (cards.page_statement(db.session, filters),
            listing.page_params(db.session, filters))


# A page without a search walks its sort's index of product_listings (migration 0012)
WALKS = {"price": "ix_product_listings_facet_price",
         "-price": "ix_product_listings_facet_price",
         "name": "ix_product_listings_facet_name",
         "newest": "ix_product_listings_facet_created_at"}


def checks(products: int) -> list[tuple[Expectation, object, dict]]:
    page_ids = list(db.session.scalars(
        select(Product.id).where(Product.status == "active").order_by(Product.name).limit(24)))
    slug = db.session.scalar(select(Product.slug).where(Product.status == "active").limit(1))
    detail = listing.DETAIL_STATEMENT
    return [
        (Expectation("detail by slug", ("uq_products_slug",)), detail, {"slug": slug}),
        (Expectation("detail: variants and stock", ("ix_product_variants_product_id",
                                                    "pk_stock_levels")),
         listing.VARIANTS, {"product_ids": page_ids}),
        (Expectation("detail: concerns and skin types", ("pk_product_concerns",
                                                        "pk_product_skin_types"), 2_000),
         listing.TAGS, {"product_ids": page_ids}),
        (Expectation("search: q=hyaluronic", ("ix_product_search_terms_term_rank",), 2_000),
         *_page(ProductFilters(q="hyaluronic"))),
        (Expectation("search: q=hyaluronic, skin_type=dry, from 15 GBP",
                     ("ix_product_search_terms_term_rank",), 2_000),
         *_page(ProductFilters(q="hyaluronic", skin_type="dry", min_price=1500))),
        (Expectation("search: q=hyaluronic acid (two words)", ("ix_products_search_vector",),
                     2_000),
         *_page(ProductFilters(q="hyaluronic acid"))),
        (Expectation("search: q=serum, sort=price (first read)",
                     ("ix_product_search_terms_term_rank",), 2_000),
         *_page(ProductFilters(q="serum", sort="price"))),
        (Expectation('search: q="vitamin c" (websearch syntax)', ("ix_products_search_vector",),
                     2_000),
         *_page(ProductFilters(q='"vitamin c"'))),
        (Expectation("list: category=serums", ("ix_product_listings_facet_name",), 2_000),
         *_page(ProductFilters(category="serums"))),
        (Expectation("list: concern=enlarged-pores", ("ix_product_listings_facet_name",),
                     2_000),
         *_page(ProductFilters(concern="enlarged-pores"))),
        (Expectation("list: skin_type=oily, concern=enlarged-pores, from 15 GBP, sort=price",
                     ("ix_product_listings_facet_price", "ix_product_listings_facet_max_price",
                      "ix_product_variants_product_id", "pk_stock_levels"), 2_000),
         *_page(ProductFilters(skin_type="oily", concern="enlarged-pores", min_price=1500,
                               sort="price"))),
        (Expectation("list: skin_type=oily, price 10-60 GBP, sort=price",
                     ("ix_product_listings_facet_price", "ix_product_variants_product_id",
                      "pk_stock_levels"), 2_000),
         *_page(ProductFilters(skin_type="oily", min_price=1000, max_price=6000, sort="price"))),
        *((Expectation(f"list: skin_type=oily, concern=enlarged-pores, sort={sort}", (index,),
                       2_000),
           *_page(ProductFilters(skin_type="oily", concern="enlarged-pores", sort=sort)))
          for sort, index in WALKS.items()),
        (Expectation("suggestions: products, q=hyal", ("ix_products_name_trgm",), 2_000),
         suggestions.matching(Product, "hyal", 8), {}),
    ]


def report(app, products: int) -> str:
    """A Markdown table of the plans, ending with whether every applicable expectation held."""
    lines = ["| query | indexes used | expected | execution ms | ok |", "|---|---|---|---:|---|"]
    all_ok = True
    with app.app_context():
        for expectation, statement, params in checks(products):
            plan, ms = _explain(statement, params)
            used = indexes_used(plan)
            applies = expectation.applies(products)
            ok = set(expectation.uses) <= used if applies else True
            all_ok &= ok
            expected = ", ".join(expectation.uses) or "-"
            if not applies:
                expected += f" ({expectation.sizes()})"
            lines.append(f"| {expectation.name} | {', '.join(sorted(used)) or 'none'} | "
                         f"{expected} | {ms:.2f} | {'yes' if ok else '**NO**'} |")
        db.session.remove()
    verdict = ("Every expected index is used." if all_ok
               else "**An expected index is NOT used** (see the table).")
    return "\n".join([*lines, "", verdict]) + "\n"
