"""On PostgreSQL a list page without a search reads product_listings (migration 0012): one row
per active product and facet, kept by a trigger on products. The rows must always say what
the product, its skin types, concerns and variants say, and a page read from them must pick
and order exactly the products a plain reading would."""

import itertools

import pytest
from sqlalchemy import select, text

from shop.catalogue import services
from shop.catalogue.models import Category, Concern, Product, Variant, product_listings
from shop.catalogue.services import LISTINGS, PRODUCTS, ProductFilters
from shop.inventory.models import StockLevel
from tests.catalogue.test_facets import a_product, matches

pytestmark = pytest.mark.postgresql_only(reason="the listings are PostgreSQL's")


def listed(db_session, product: Product) -> set[tuple]:
    db_session.flush()
    columns = product_listings.c
    return set(db_session.execute(
        select(columns.facet, columns.name, columns.category_id, columns.created_at,
               columns.min_active_price, columns.max_active_price)
        .where(columns.product_id == product.id)).all())


def derived(product: Product) -> set[tuple]:
    """The rows a product should have, read plainly off the ORM objects."""
    if product.status != "active":
        return set()
    prices = [v.price_amount for v in product.variants if v.is_active]
    skins = [f"skin:{skin}" for skin in product.skin_types]
    concerns = [f"concern:{concern.slug}" for concern in product.concerns]
    facets = ["all", f"category:{product.category_id}", *skins, *concerns,
              *(f"{s}&{c}" for s in skins for c in concerns)]
    return {(facet, product.name, product.category_id, product.created_at,
             min(prices, default=None), max(prices, default=None)) for facet in facets}


def test_every_seeded_product_is_listed_under_its_facets(db_session):
    products = db_session.scalars(select(Product)).unique().all()
    for product in products:
        assert listed(db_session, product) == derived(product), product.slug
    pairs = db_session.scalar(select(product_listings.c.facet)
                              .where(product_listings.c.facet.like("skin:%&concern:%")).limit(1))
    assert pairs is not None


def test_product_changes_reach_its_listings(db_session):
    product = a_product(db_session)
    product.name = "Renamed Serum"
    product.category = db_session.scalars(
        select(Category).where(Category.id != product.category_id).limit(1)).one()
    assert listed(db_session, product) == derived(product)
    product.status = "archived"
    assert listed(db_session, product) == set()
    product.status = "active"
    assert listed(db_session, product) == derived(product)
    product.status = "draft"
    assert listed(db_session, product) == set()


def test_tag_and_variant_changes_reach_its_listings(db_session):
    product = a_product(db_session)
    product.skin_types = ["sensitive", "dry"]
    product.concerns = db_session.scalars(select(Concern).order_by(Concern.id).limit(3)).all()
    assert listed(db_session, product) == derived(product)
    first, *_ = product.variants
    first.price_amount = 99_900
    assert listed(db_session, product) == derived(product)
    first.is_active = False
    assert listed(db_session, product) == derived(product)
    product.concerns[0].slug = "renamed-concern"
    db_session.flush()
    assert ("concern:renamed-concern",) in {row[:1] for row in listed(db_session, product)}
    assert listed(db_session, product) == derived(product)
    product.skin_types, product.concerns = [], []
    assert {row[0] for row in listed(db_session, product)} == {
        "all", f"category:{product.category_id}"}


def test_a_new_product_is_listed_and_a_deleted_one_is_not(db_session):
    category = db_session.scalars(select(Category).limit(1)).one()
    product = Product(slug="new-serum", name="New Serum", category=category, status="active",
                      skin_types=["oily"])
    db_session.add(product)
    assert listed(db_session, product) == derived(product)
    assert {row[0] for row in listed(db_session, product)} == {
        "all", f"category:{category.id}", "skin:oily"}
    db_session.delete(product)
    db_session.flush()
    assert db_session.scalar(select(product_listings.c.facet)
                             .where(product_listings.c.product_id == product.id)) is None


def row_versions(db_session, product: Product) -> set:
    db_session.flush()
    return set(db_session.scalars(text("SELECT xmin::text FROM product_listings "
                                       "WHERE product_id = :p"), {"p": product.id}))


def test_changes_a_page_does_not_read_leave_the_listings_alone(db_session):
    """Stock moves and copy edits must not rewrite a product's rows (and their indexes)."""
    product = a_product(db_session)
    before = row_versions(db_session, product)
    product.description = "A new description."
    product.short_description = "New words."
    level = db_session.get(StockLevel, product.variants[0].id)
    level.on_hand += 5
    assert row_versions(db_session, product) == before


def in_stock(product: Product) -> bool:
    return any(v.is_active and (v.voucher_kind is not None
                                or (v.stock_level is not None
                                    and v.stock_level.on_hand > v.stock_level.reserved))
               for v in product.variants)


def test_the_filters_pick_what_a_plain_reading_picks(db_session):
    products = db_session.scalars(select(Product)).unique().all()
    category = db_session.scalars(select(Category).order_by(Category.id).limit(1)).one()
    skin_types = [None, "oily", "sensitive", "nonexistent"]
    concerns = [None, *db_session.scalars(select(Concern.slug).limit(4)).all(), "nonexistent"]
    prices = [(None, None), (1500, None), (None, 2500), (1500, 2500)]
    others = [{}, {"category": category.slug}, {"in_stock": True}, {"in_stock": False}]
    checked = 0
    for skin_type, concern, (low, high), other in itertools.product(
            skin_types, concerns, prices, others):
        filters = ProductFilters(skin_type=skin_type, concern=concern, min_price=low,
                                 max_price=high, **other)
        stmt = services.apply_filters(
            db_session, select(LISTINGS.id).select_from(product_listings), filters, LISTINGS)
        found = set(db_session.scalars(stmt))
        assert found == {p.id for p in products if matches(p, filters)
                         and (not filters.category or p.category_id == category.id)
                         and (filters.in_stock is None or in_stock(p) == filters.in_stock)}, \
            filters
        checked += bool(found)
    assert checked > 40  # the combinations are not all empty


@pytest.mark.parametrize("sort", ["name", "price", "-price", "newest"])
def test_every_sort_orders_as_the_products_do(db_session, sort):
    filters = ProductFilters(sort=sort, skin_type="oily")
    from_products = services.apply_sort(db_session, services.apply_filters(
        db_session, select(Product.id).where(Product.status == "active"), filters), filters)
    from_listings = services.apply_filters(
        db_session, select(LISTINGS.id).select_from(product_listings), filters, LISTINGS
    ).order_by(*(key.desc() if descending else key.asc()
                 for key, descending in services.sort_keys(db_session, filters, LISTINGS)))
    expected = db_session.scalars(from_products).all()
    assert db_session.scalars(from_listings).all() == expected and len(expected) > 3


@pytest.mark.parametrize("columns", [LISTINGS, PRODUCTS], ids=["listings", "products"])
def test_both_price_bounds_probe_only_a_product_priced_across_them(db_session, columns):
    """Its lowest or highest price within the bounds is enough; priced across them (cheaper
    and dearer variants), a variant must lie in between."""
    category = db_session.scalars(select(Category).limit(1)).one()
    product = Product(slug="three-sizes", name="Three Sizes", category=category, status="active",
                      variants=[Variant(sku=f"THREE-{price}", name=f"{price}", price_amount=price,
                                        currency="GBP", position=n)
                                for n, price in enumerate((1000, 2000, 3000))])
    db_session.add(product)
    db_session.flush()
    source = product_listings if columns is LISTINGS else Product.__table__

    def found(low: int, high: int) -> bool:
        filters = ProductFilters(min_price=low, max_price=high)
        stmt = services.apply_filters(db_session, select(columns.id).select_from(source)
                                      .where(columns.id == product.id), filters, columns)
        return db_session.scalar(stmt) is not None

    assert found(900, 1100) and found(2900, 3100)  # an end within
    assert found(1500, 2500)  # across, with the 2,000 variant in between
    assert not found(2100, 2900) and not found(3100, 4000)  # across with none, or beyond
    product.variants[1].is_active = False
    db_session.flush()
    assert not found(1500, 2500)  # the one in between is not on sale
