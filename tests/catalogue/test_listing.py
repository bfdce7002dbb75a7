"""The lean catalogue reads (shop/catalogue/listing.py) give exactly what the documented
schemas would dump from the ORM objects, for every product and for pages of them."""

import json

import pytest
from sqlalchemy import func, select, text

from shop.catalogue import cards, listing, schemas, services
from shop.catalogue.models import Product, Variant
from shop.catalogue.services import ProductFilters
from shop.inventory.models import StockLevel

FILTERS = [
    ProductFilters(),
    ProductFilters(per_page=5, page=2),
    ProductFilters(skin_type="oily", sort="price"),
    ProductFilters(concern="enlarged-pores", sort="-price"),
    ProductFilters(category="serums", sort="newest"),
    ProductFilters(q="hyaluronic"),
    ProductFilters(q="salicylic acid", sort="name"),
    ProductFilters(min_price=1500, max_price=4000, in_stock=True),
    ProductFilters(in_stock=False),
]


def orm_page(session, filters: ProductFilters) -> tuple[list[Product], int]:
    """The same page the way the rest of the shop reads: ORM objects, eager loads."""
    base = services.apply_filters(session, select(Product).where(Product.status == "active"),
                                  filters)
    total = session.scalar(select(func.count()).select_from(base.subquery()))
    page = (services.apply_sort(session, base, filters)
            .options(*services.product_loader_options())
            .limit(filters.per_page).offset((filters.page - 1) * filters.per_page))
    return list(session.scalars(page).unique()), total


def expected_page(session, filters: ProductFilters) -> dict:
    """What the API must send for these filters (ProductPageSchema), the count exact."""
    products, total = orm_page(session, filters)
    return schemas.ProductPageSchema().dump(
        {"items": products, "page": filters.page, "per_page": filters.per_page, "total": total,
         "total_exact": True})


@pytest.fixture
def varied_stock(db_session):
    """Some variants out of stock, some with reservations, one with no stock row at all."""
    levels = db_session.scalars(select(StockLevel).order_by(StockLevel.variant_id)).all()
    for n, level in enumerate(levels[:6]):
        level.reserved = level.on_hand if n % 2 else max(level.on_hand - 3, 0)
    db_session.delete(levels[6])
    db_session.flush()
    variant = db_session.scalars(select(Variant).order_by(Variant.id)).first()
    variant.compare_at_amount = variant.price_amount + 700
    db_session.flush()
    db_session.expire_all()


def test_every_product_detail_matches_the_schema(db_session, varied_stock):
    products = db_session.scalars(
        select(Product).where(Product.status == "active")
        .options(*services.product_loader_options())).unique().all()
    assert len(products) > 10
    assert any(v.voucher_kind for p in products for v in p.variants)  # vouchers are covered
    for product in products:
        expected = schemas.ProductSchema().dump(product)
        lean = listing.product_detail(session=db_session, slug=product.slug)
        assert json.dumps(lean) == json.dumps(expected), product.slug  # same order too


@pytest.mark.parametrize("filters", FILTERS, ids=repr)
def test_pages_match_the_schema(db_session, varied_stock, filters):
    expected = expected_page(db_session, filters)
    lean = listing.product_page(session=db_session, filters=filters)
    assert json.dumps(lean) == json.dumps(expected)
    # the JSON text the API sends (from product cards on PostgreSQL): same fields, same order
    text = cards.product_page_json(session=db_session, filters=filters)
    assert json.dumps(json.loads(text)) == json.dumps(expected)


@pytest.mark.parametrize("first, second", [
    (ProductFilters(skin_type="oily", min_price=1000, sort="price"),
     ProductFilters(skin_type="dry", min_price=3000, sort="price", per_page=3, page=2)),
    (ProductFilters(q="hyaluronic serum"), ProductFilters(q="salicylic acid")),
    (ProductFilters(category="serums", concern="enlarged-pores"),
     ProductFilters(category="cleansers", concern="dullness")),
], ids=["price", "search", "category"])
def test_a_statement_built_for_one_filter_set_serves_the_next_of_its_shape(
        db_session, first, second):
    for filters in (first, second):
        products, total = orm_page(db_session, filters)
        for lean in (listing.product_page(session=db_session, filters=filters),
                     json.loads(cards.product_page_json(session=db_session, filters=filters))):
            assert [item["slug"] for item in lean["items"]] == [p.slug for p in products]
            assert lean["total"] == total


def test_a_page_past_the_end_still_counts_the_total(db_session):
    lean = listing.product_page(session=db_session, filters=ProductFilters(page=500))
    assert lean["items"] == []
    assert lean["total"] == orm_page(db_session, ProductFilters())[1] > 0
    text = cards.product_page_json(session=db_session, filters=ProductFilters(page=500))
    assert json.loads(text) == {**lean, "page": 500}
    nothing = cards.product_page_json(session=db_session, filters=ProductFilters(q="zzzq"))
    assert json.loads(nothing) == {"items": [], "page": 1, "per_page": 24, "total": 0,
                                   "total_exact": True}


def test_the_api_serves_the_lean_page(client, db_session):
    body = client.get("/api/v1/products?skin_type=dry&sort=price&per_page=7").json
    assert body == expected_page(db_session, ProductFilters(skin_type="dry", sort="price",
                                                            per_page=7))


def both_pages(session, filters: ProductFilters) -> list[dict]:
    """The page as listing.product_page() gives it and as the API sends it (cards)."""
    return [listing.product_page(session=session, filters=filters),
            json.loads(cards.product_page_json(session=session, filters=filters))]


@pytest.mark.parametrize("sort", ["price", "-price", "name", "newest"])
def test_the_count_stops_a_limit_past_the_page_and_says_so(db_session, sort):
    everything, total = orm_page(db_session, ProductFilters(sort=sort, per_page=100))
    assert total > 12
    for page, (shown, exact) in {1: (0 + 5, False), 3: (6 + 5, False),
                                 total // 3 + 1: (total, True)}.items():
        filters = ProductFilters(sort=sort, per_page=3, page=page, total_limit=5)
        for lean in both_pages(db_session, filters):
            assert (lean["total"], lean["total_exact"]) == (shown, exact)
            assert [item["slug"] for item in lean["items"]] == [
                product.slug for product in everything[(page - 1) * 3:page * 3]]


def test_a_page_past_the_end_counts_within_the_limit_too(db_session):
    _, total = orm_page(db_session, ProductFilters())
    filters = ProductFilters(per_page=2, page=total, total_limit=3)
    for lean in both_pages(db_session, filters):
        assert (lean["items"], lean["total"], lean["total_exact"]) == ([], total, True)


def test_relevance_ranks_the_first_matches_up_to_the_limit(db_session):
    filters = ProductFilters(q="skin", per_page=4)
    _, total = orm_page(db_session, filters)
    assert total > 6
    capped = ProductFilters(q="skin", per_page=4, total_limit=6)
    for lean in both_pages(db_session, capped):
        assert (lean["total"], lean["total_exact"]) == (6, False)
        assert len(lean["items"]) == 4
    everything = {p.slug for p in orm_page(db_session, ProductFilters(q="skin", per_page=100))[0]}
    assert {item["slug"] for item in both_pages(db_session, capped)[1]["items"]} <= everything


@pytest.mark.postgresql_only(reason="psycopg's server-side prepared statements")
def test_a_walk_is_planned_for_its_values_every_time(db_session):
    """psycopg prepares a statement that ran five times on a connection, and PostgreSQL then
    settles on a generic plan, made without the values: fine for the first read of a page,
    not for walking a sort's index (the plan must know how many products the filters keep).
    A search sorted by price reads products and walks (pages without one read listings)."""
    for n in range(8):
        filters = ProductFilters(q="skin", min_price=100 * n, sort="price", per_page=2,
                                 total_limit=3)
        page = json.loads(cards.product_page_json(session=db_session, filters=filters))
        assert page["total_exact"] is False and len(page["items"]) == 2  # walked
    prepared = db_session.scalars(text("SELECT statement FROM pg_prepared_statements")).all()
    assert any("matched" in sql for sql in prepared)  # the first read is prepared...
    assert not any("matched" not in sql and "min_active_price" in sql for sql in prepared)
