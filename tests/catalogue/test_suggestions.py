"""The search box's suggestions: a word of a name starting with what was typed."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from shop.catalogue.models import Category, Product, Treatment

URL = "/api/v1/suggestions"


def suggested(client, query: str) -> list[tuple[str, str]]:
    response = client.get(f"{URL}?{query}")
    assert response.status_code == 200, response.json
    return [(item["kind"], item["name"]) for item in response.json["items"]]


def test_a_word_inside_the_name_counts(client):
    assert ("product", "MOIST Hyaluronic Acid Serum") in suggested(client, "q=HYAL")
    assert ("product", "MOIST Hyaluronic Acid Serum") in suggested(client, "q=%20moist%20")


def test_names_starting_with_it_come_first_categories_and_treatments_before_products(client):
    items = suggested(client, "q=hydra")
    assert items[0] == ("treatment", "Hydra Facial")
    starting = [name.lower().startswith("hydra") for _, name in items]
    assert starting == sorted(starting, reverse=True)
    assert suggested(client, "q=serum")[0] == ("category", "Serums")


def test_only_what_is_on_show(client, db_session):
    product = db_session.scalar(select(Product).where(Product.name.contains("Hyaluronic Acid")))
    product.status = "archived"
    db_session.scalar(select(Treatment).where(Treatment.slug == "hydra-facial")).status = "draft"
    db_session.scalar(select(Category).where(Category.name == "Serums")).status = "archived"
    db_session.flush()
    assert ("product", product.name) not in suggested(client, "q=hyaluronic")
    assert ("treatment", "Hydra Facial") not in suggested(client, "q=hydra")
    assert ("category", "Serums") not in suggested(client, "q=serum")


def test_limit_and_wildcards_taken_literally(client):
    assert len(suggested(client, "q=s&limit=3")) == 3
    assert suggested(client, "q=%25") == [] and suggested(client, "q=_") == []


@pytest.mark.parametrize("query", ["", "q=", "q=" + "x" * 101, "q=a&limit=0", "q=a&limit=21",
                                   "q=a&other=1"])
def test_bad_queries_are_422(client, query):
    response = client.get(f"{URL}?{query}")
    assert response.status_code == 422
    assert response.content_type == "application/problem+json"


def test_cacheable_like_the_catalogue(client, count_queries):
    first = client.get(f"{URL}?q=clay")
    assert first.headers.get("ETag") and "max-age" in first.headers["Cache-Control"]
    again = client.get(f"{URL}?q=clay", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    counts = []
    for limit in (1, 20):
        count_queries.count = 0
        client.get(f"{URL}?q=serum&limit={limit}")
        counts.append(count_queries.count)
    assert counts[0] == counts[1]  # one statement per kind, whatever the limit


@pytest.mark.postgresql_only(reason="the trigram index is PostgreSQL's (migration 0035)")
def test_a_word_start_reads_the_trigram_index(db_session):
    """LIKE '% hyal%' matches inside the name, which no btree serves: the GIN trigram index
    does (the planner is told to avoid a table scan, as the seed catalogue is small)."""
    from sqlalchemy import text

    db_session.execute(text("SET LOCAL enable_seqscan = off"))
    plan = "\n".join(db_session.scalars(text(
        "EXPLAIN SELECT slug FROM products WHERE lower(name) LIKE 'hyal%' "
        "OR lower(name) LIKE '% hyal%' OR lower(name) LIKE '%-hyal%'")))
    assert plan.count("ix_products_name_trgm") == 3, plan
