"""On PostgreSQL the list filters read products.facets and the active price range, which
triggers keep (migration 0010): they must always say what the skin types, concerns and
variants say, and the filters must pick exactly the products a plain reading would."""

import itertools

import pytest
from sqlalchemy import select, text

from shop.catalogue import services
from shop.catalogue.models import Concern, Product
from shop.catalogue.services import ProductFilters

pytestmark = pytest.mark.postgresql_only(reason="the facet columns are PostgreSQL's")


def stored(db_session, product: Product) -> tuple:
    db_session.flush()
    return db_session.execute(
        select(Product.facets, Product.min_active_price, Product.max_active_price)
        .where(Product.id == product.id)).one()


def derived(product: Product) -> tuple:
    prices = [v.price_amount for v in product.variants if v.is_active]
    tags = sorted([f"skin:{s}" for s in product.skin_types]
                  + [f"concern:{c.slug}" for c in product.concerns])
    return tags, min(prices, default=None), max(prices, default=None)


def a_product(db_session, slug="moist-hyaluronic-acid-serum") -> Product:
    return db_session.scalars(select(Product).where(Product.slug == slug)).one()


def test_every_seeded_product_carries_its_facets_and_price_range(db_session):
    products = db_session.scalars(select(Product)).unique().all()
    assert len(products) > 10
    for product in products:
        facets, low, high = stored(db_session, product)
        assert (sorted(facets or []), low, high) == derived(product), product.slug  # NULL: none


def test_tag_changes_reach_the_product(db_session):
    product = a_product(db_session)
    product.skin_types = ["sensitive"]
    product.concerns = db_session.scalars(select(Concern).order_by(Concern.id).limit(2)).all()
    facets, _, _ = stored(db_session, product)
    assert sorted(facets) == derived(product)[0]
    product.concerns = []
    product.skin_types = []
    assert stored(db_session, product)[0] == []


def test_variant_changes_reach_the_price_range(db_session):
    product = a_product(db_session)
    first, *_ = product.variants
    first.price_amount = 99_900
    assert stored(db_session, product) == tuple(derived(product))
    first.is_active = False
    assert stored(db_session, product) == tuple(derived(product))
    other = a_product(db_session, "aha-glow-toner")
    moved = other.variants[0]
    moved.product = product  # product_id changes: both products are refreshed
    db_session.flush()
    db_session.expire_all()
    assert stored(db_session, product) == tuple(derived(product))
    assert stored(db_session, other) == tuple(derived(other))
    for variant in list(product.variants):
        db_session.delete(variant)
    db_session.flush()
    db_session.expire_all()
    assert stored(db_session, product)[1:] == (None, None)


def test_a_product_with_its_rows_can_still_be_deleted(db_session):
    product = a_product(db_session)
    db_session.execute(text("DELETE FROM order_lines WHERE variant_id IN "
                            "(SELECT id FROM product_variants WHERE product_id = :p)"),
                       {"p": product.id})
    db_session.execute(text("DELETE FROM stock_movements WHERE variant_id IN "
                            "(SELECT id FROM product_variants WHERE product_id = :p)"),
                       {"p": product.id})
    db_session.delete(product)
    db_session.flush()
    assert db_session.get(Product, product.id) is None


def matches(product: Product, filters: ProductFilters) -> bool:
    """The filters read plainly off the ORM objects."""
    prices = [v.price_amount for v in product.variants if v.is_active]
    low = filters.min_price if filters.min_price is not None else float("-inf")
    high = filters.max_price if filters.max_price is not None else float("inf")
    return (product.status == "active"
            and (not filters.skin_type or filters.skin_type in product.skin_types)
            and (not filters.concern or filters.concern in [c.slug for c in product.concerns])
            and (filters.min_price is None and filters.max_price is None
                 or any(low <= price <= high for price in prices)))


def test_the_filters_pick_what_a_plain_reading_picks(db_session):
    products = db_session.scalars(select(Product)).unique().all()
    skin_types = [None, "oily", "dry", "sensitive", "nonexistent"]
    concerns = [None, *db_session.scalars(select(Concern.slug)).all(), "nonexistent"]
    prices = [(None, None), (1500, None), (None, 2500), (1500, 2500), (3000, 3100)]
    checked = 0
    for skin_type, concern, (low, high) in itertools.product(skin_types, concerns, prices):
        filters = ProductFilters(skin_type=skin_type, concern=concern, min_price=low,
                                 max_price=high)
        stmt = services.apply_filters(
            db_session, select(Product.id).where(Product.status == "active"), filters)
        found = set(db_session.scalars(stmt))
        assert found == {p.id for p in products if matches(p, filters)}, filters
        checked += bool(found)
    assert checked > 20  # the combinations are not all empty


def test_a_price_sort_orders_by_the_lowest_active_price(db_session):
    filters = ProductFilters(sort="price", skin_type="oily")
    stmt = services.apply_sort(
        db_session, services.apply_filters(
            db_session, select(Product).where(Product.status == "active"), filters), filters)
    lowest = [min(v.price_amount for v in p.variants if v.is_active)
              for p in db_session.scalars(stmt).unique()]
    assert lowest == sorted(lowest) and len(lowest) > 3


def test_a_renamed_concern_renames_its_tag(db_session):
    product = a_product(db_session)
    concern = product.concerns[0]
    concern.slug = "renamed-concern"
    db_session.flush()
    assert "concern:renamed-concern" in stored(db_session, product)[0]
    assert stored(db_session, product)[0] == derived(product)[0]
