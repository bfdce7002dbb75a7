"""Product pages on PostgreSQL are made of per-process cached product cards: the same JSON the
schemas give, availability read with every page, cards rebuilt when the catalogue moves."""

import json

import pytest
from sqlalchemy import select

from shop import create_app
from shop.catalogue import cards
from shop.catalogue.cards import Card, CardStore
from shop.catalogue.models import AVAILABLE_DISPLAY_CAP, Product, Variant
from shop.catalogue.services import ProductFilters
from shop.catalogue_version import bump_catalogue_version
from shop.inventory.models import StockLevel
from tests.catalogue.test_listing import FILTERS, expected_page

on_postgresql = pytest.mark.postgresql_only(reason="SQLite pages are built without cards")

PAGE = ProductFilters(skin_type="oily", sort="price", per_page=6)


@pytest.fixture
def cached(app_config, db_session):
    """An app whose card store is on; the version is read on every page."""
    app = create_app({**app_config, "CATALOGUE_RESPONSE_CACHE_SECONDS": 60,
                      "CATALOGUE_VERSION_CHECK_MS": 0})
    with app.app_context():
        yield app.extensions[cards.STORE_KEY]


def page(db_session, filters=PAGE) -> dict:
    return json.loads(cards.product_page_json(session=db_session, filters=filters))


def expected(db_session, filters=PAGE) -> dict:
    db_session.expire_all()
    return expected_page(db_session, filters)


def first_product(db_session) -> Product:
    return db_session.scalars(select(Product).where(
        Product.slug == page(db_session)["items"][0]["slug"])).one()


@on_postgresql
@pytest.mark.parametrize("filters", FILTERS, ids=repr)
def test_pages_from_stored_cards_match_the_schema(cached, db_session, filters):
    first = page(db_session, filters)
    stored = dict(cached._cards)
    second = page(db_session, filters)
    assert json.dumps(first) == json.dumps(second) == json.dumps(expected(db_session, filters))
    if first["items"]:
        assert stored and cached._cards == stored  # the second page built no card


@on_postgresql
def test_stock_shows_at_once_without_a_new_version(cached, db_session):
    product = first_product(db_session)
    stored = dict(cached._cards)
    level = db_session.get(StockLevel, product.variants[0].id)
    level.reserved = level.on_hand  # every unit reserved: out of stock
    db_session.flush()
    variant = page(db_session)["items"][0]["variants"][0]
    assert (variant["in_stock"], variant["available"]) == (False, 0)
    assert cached._cards == stored  # the card was not rebuilt for it
    assert page(db_session) == expected(db_session)


@on_postgresql
def test_a_catalogue_write_rebuilds_the_cards(cached, db_session):
    product = first_product(db_session)
    product.name = product.name + " (new formula)"
    db_session.flush()
    assert page(db_session)["items"][0]["name"] != product.name  # same version: the card
    bump_catalogue_version(session=db_session)
    assert page(db_session)["items"][0]["name"] == product.name
    assert page(db_session) == expected(db_session)


@on_postgresql
def test_a_card_whose_variants_changed_is_read_again(cached, db_session):
    product = first_product(db_session)
    db_session.add(Variant(product=product, sku="GLW-NEW-VARIANT-1", name="Travel size",
                           price_amount=product.variants[0].price_amount, currency="GBP",
                           position=99))
    db_session.flush()  # no version bump: as if the page ran between the write and its bump
    item = page(db_session)["items"][0]
    assert item["variants"][-1]["sku"] == "GLW-NEW-VARIANT-1"
    assert item["variants"][-1]["in_stock"] is False  # no stock row yet
    assert page(db_session) == expected(db_session)


def test_the_store_keeps_one_version_and_drops_the_least_recently_used():
    store = CardStore(max_cards=2)
    card = Card.of({"slug": "s", "variants": [{"id": 1, "in_stock": True, "available": 3}]})
    store.put(7, {1: card})  # a version the store has not seen: dropped
    assert store.get(7, [1]) == {}
    store.put(7, {1: card, 2: card})
    store.get(7, [1])
    store.put(7, {3: card})
    assert set(store.get(7, [1, 2, 3])) == {1, 3}
    assert store.get(8, [1, 3]) == {}  # a new version: nothing carried over


def test_a_card_renders_availability_into_each_variant():
    card = Card.of({"slug": "s", "name": "Ünïcode", "variants": [
        {"id": 1, "sku": "A", "in_stock": True, "available": 3},
        {"id": 2, "sku": "B", "in_stock": False, "available": 0}]})
    rendered = json.loads(card.render([0, AVAILABLE_DISPLAY_CAP + 240]))
    assert rendered == {"slug": "s", "name": "Ünïcode", "variants": [
        {"id": 1, "sku": "A", "in_stock": False, "available": 0},
        {"id": 2, "sku": "B", "in_stock": True, "available": AVAILABLE_DISPLAY_CAP}]}
    assert Card.of({"slug": "s", "variants": []}).render([]) == '{"slug":"s","variants":[]}'
