"""On PostgreSQL a one-word search ranked by relevance reads product_search_terms (migration
0013): one row per active product and ASCII word of its search vector, with the word's rank,
kept by a trigger on products. The rows must always say what the product says, and a search
read from them must find, rank and count exactly what a plain reading of products would."""

import itertools
import json
import re

import pytest
from sqlalchemy import select, text

from shop.catalogue import cards, listing, services
from shop.catalogue.models import Category, Concern, Product, product_search_terms
from shop.catalogue.services import PRODUCTS, TERMS, ProductFilters
from shop.inventory.models import StockLevel
from tests.catalogue.test_facets import a_product
from tests.catalogue.test_listing import orm_page

pytestmark = pytest.mark.postgresql_only(reason="the search terms are PostgreSQL's")


def stored(db_session, product: Product) -> set[tuple]:
    db_session.flush()
    columns = product_search_terms.c
    rows = db_session.execute(
        select(columns.term, columns.rank, columns.name, columns.category_id,
               columns.created_at, columns.facets, columns.min_active_price,
               columns.max_active_price)
        .where(columns.product_id == product.id)).all()
    return {(*row[:5], tuple(row.facets), *row[6:]) for row in rows}


def derived(db_session, product: Product) -> set[tuple]:
    """The rows a product should have: each ASCII word of its text as a search for it asks
    (websearch_to_tsquery, as the API parses q), ranked as that search ranks the product."""
    if product.status != "active":
        return set()
    row = db_session.execute(
        text("SELECT facets, min_active_price, max_active_price FROM products WHERE id = :id"),
        {"id": product.id}).one()
    rows = set()
    for word in set(re.findall(r"[a-z0-9]+", product.search_text)):
        term, rank, found = db_session.execute(
            text("SELECT (tsvector_to_array(to_tsvector('english', :word)))[1], "
                 "ts_rank(search_vector, websearch_to_tsquery('english', :word)), "
                 "search_vector @@ websearch_to_tsquery('english', :word) "
                 "FROM products WHERE id = :id"), {"word": word, "id": product.id}).one()
        if found:  # (not a stop word, nor a part of '0.3%' that the parser read as a number)
            rows.add((term, rank, product.name, product.category_id, product.created_at,
                      tuple(row.facets or []),
                      row.min_active_price, row.max_active_price))
    return rows


def test_every_seeded_product_has_the_words_of_its_text(db_session):
    products = db_session.scalars(select(Product)).unique().all()
    for product in products:
        assert stored(db_session, product) == derived(db_session, product), product.slug
    assert len(stored(db_session, a_product(db_session))) > 10


def test_product_changes_reach_its_search_terms(db_session):
    product = a_product(db_session)
    product.name = "Renamed Peptide Serum"
    product.rebuild_search_text()
    product.category = db_session.scalars(
        select(Category).where(Category.id != product.category_id).limit(1)).one()
    assert "peptid" in {row[0] for row in stored(db_session, product)}
    assert stored(db_session, product) == derived(db_session, product)
    for status, listed in (("archived", False), ("active", True), ("draft", False)):
        product.status = status
        assert bool(stored(db_session, product)) is listed
        assert stored(db_session, product) == derived(db_session, product)


def test_tag_and_price_changes_reach_its_search_terms(db_session):
    product = a_product(db_session)
    product.skin_types = ["sensitive", "dry"]
    product.concerns = db_session.scalars(select(Concern).order_by(Concern.id).limit(3)).all()
    product.rebuild_search_text()  # (concern names are searched too)
    assert stored(db_session, product) == derived(db_session, product)
    product.variants[0].price_amount = 99_900
    assert stored(db_session, product) == derived(db_session, product)
    assert {row[7] for row in stored(db_session, product)} == {99_900}


def test_a_deleted_product_leaves_no_terms(db_session):
    category = db_session.scalars(select(Category).limit(1)).one()
    product = Product(slug="new-serum", name="New Serum", category=category, status="active",
                      search_text="new serum")
    db_session.add(product)
    assert {row[0] for row in stored(db_session, product)} == {"new", "serum"}
    db_session.delete(product)
    db_session.flush()
    assert db_session.scalar(select(product_search_terms.c.term)
                             .where(product_search_terms.c.product_id == product.id)) is None


def test_changes_a_search_does_not_read_leave_the_terms_alone(db_session):
    product = a_product(db_session)
    db_session.flush()
    versions = text("SELECT xmin::text FROM product_search_terms WHERE product_id = :p")
    before = set(db_session.scalars(versions, {"p": product.id}))
    product.how_to_use = "Twice a day."
    product.image_urls = ["https://example.com/new.jpg"]
    db_session.get(StockLevel, product.variants[0].id).on_hand += 5
    db_session.flush()
    assert set(db_session.scalars(versions, {"p": product.id})) == before


@pytest.mark.parametrize("q, one_word", [
    ("hyaluronic", True), (" Serum ", True), ("spf50", True), ("2024", True), ("the", True),
    ("vitamin c", False), ("green-tea", False), ('"clay mask"', False), ("-mask", False),
    ("crème", False), ("", False),
])
def test_only_an_ascii_word_reads_the_search_terms(db_session, q, one_word):
    assert services.is_one_word(q) is one_word
    ranked = ProductFilters(q=q or None)
    assert (services.listed_columns(db_session, ranked) is TERMS) is one_word
    assert services.reads_in_sort_order(db_session, ranked) is (one_word or not q)
    by_name = ProductFilters(q=q or None, sort="name")
    assert services.listed_columns(db_session, by_name) is (
        TERMS if one_word else PRODUCTS if q else services.LISTINGS)
    assert services.listed_columns(db_session, by_name, walk=True) is (
        PRODUCTS if q else services.LISTINGS)  # a sorted search walks products' index


WORDS = ["hyaluronic", "serum", "skin", "acid", "pores", "the", "zzzq", "HYDRA"]
FILTER_SETS = [{}, {"skin_type": "oily"}, {"concern": "enlarged-pores"},
               {"skin_type": "dry", "concern": "dehydration"}, {"min_price": 2000},
               {"max_price": 3000}, {"min_price": 1500, "max_price": 4000},
               {"category": "serums"}, {"in_stock": True}, {"in_stock": False}]


SORTS = [None, "name", "price", "-price", "newest"]


def same_pages(db_session, queries) -> int:
    """Each search against every filter set and sort: the same products, in the same order
    (relevance or the sort's) and count, as a plain reading of products gives. How many
    found something."""
    found = 0
    for word, other, sort in itertools.product(queries, FILTER_SETS, SORTS):
        filters = ProductFilters(q=word, per_page=100, sort=sort, **other)
        assert services.listed_columns(db_session, filters) is TERMS
        products, total = orm_page(db_session, filters)
        for page in (listing.product_page(session=db_session, filters=filters),
                     json.loads(cards.product_page_json(session=db_session, filters=filters))):
            assert [item["slug"] for item in page["items"]] == [p.slug for p in products], \
                filters
            assert (page["total"], page["total_exact"]) == (total, True)
        found += bool(products)
    return found


def test_a_one_word_search_finds_ranks_and_counts_as_products_do(db_session):
    assert same_pages(db_session, WORDS) > 100


def test_the_most_relevant_of_all_matches_come_first_and_the_count_stops(db_session):
    """Past the count limit the page is still the top of the whole ranking (a search of
    products ranks only the first matches it reads)."""
    everything, total = orm_page(db_session, ProductFilters(q="skin", per_page=100))
    assert total > 8
    for page_number in (1, 2, 3):
        filters = ProductFilters(q="skin", per_page=3, page=page_number, total_limit=4)
        start = (page_number - 1) * 3
        for page in (listing.product_page(session=db_session, filters=filters),
                     json.loads(cards.product_page_json(session=db_session, filters=filters))):
            assert [item["slug"] for item in page["items"]] == [
                p.slug for p in everything[start:start + 3]]
            assert (page["total"], page["total_exact"]) == (min(total, start + 4),
                                                           total <= start + 4)


def test_the_api_ranks_a_one_word_search_from_the_terms(client, db_session):
    body = client.get("/api/v1/products?q=hyaluronic&skin_type=dry&per_page=5").json
    products, total = orm_page(db_session, ProductFilters(q="hyaluronic", skin_type="dry",
                                                          per_page=5))
    assert [item["slug"] for item in body["items"]] == [p.slug for p in products]
    assert body["total"] == total > 0


@pytest.mark.parametrize("q", ["skin", "skin serum"])
@pytest.mark.parametrize("sort", ["name", "price", "-price", "newest"])
def test_a_sorted_search_past_the_count_limit_walks_products(db_session, q, sort):
    """The first matches are counted from the terms; past the limit the page sorted by a
    column is read from that column's index of products, and is exact."""
    everything, total = orm_page(db_session, ProductFilters(q=q, sort=sort, per_page=100))
    assert total > 4
    for page_number in (1, 2):
        filters = ProductFilters(q=q, sort=sort, per_page=2, page=page_number, total_limit=1)
        start = (page_number - 1) * 2
        for page in (listing.product_page(session=db_session, filters=filters),
                     json.loads(cards.product_page_json(session=db_session, filters=filters))):
            assert [item["slug"] for item in page["items"]] == [
                p.slug for p in everything[start:start + 2]]
            assert (page["total"], page["total_exact"]) == (start + 1, False)
