"""Public catalogue over HTTP, against the seed catalogue."""

from __future__ import annotations

import pytest

from shop.catalogue.models import Product, Variant
from shop.inventory import services as inventory

ARTICLE_PRODUCTS = {
    "glow-sonic-cleansing-brush",
    "glow-soft-touch-cleansing-brush",
    "pore-refining-cleansing-gel",
    "moist-hyaluronic-acid-serum",
    "revitalising-clay-mask-with-sea-botanicals",
}


def all_slugs(client, query: str) -> list[str]:
    response = client.get(f"/api/v1/products?{query}&per_page=100")
    assert response.status_code == 200, response.json
    return [item["slug"] for item in response.json["items"]]


def test_enlarged_pores_returns_the_articles_products(client):
    slugs = set(all_slugs(client, "concern=enlarged-pores"))
    missing = {slug for slug in ARTICLE_PRODUCTS if not any(s.startswith(slug[:20]) for s in slugs)}
    assert not missing
    assert any("moist" in slug for slug in slugs)


def test_list_envelope_and_money_shape(client):
    body = client.get("/api/v1/products?per_page=5").json
    assert set(body) == {"items", "page", "per_page", "total", "total_exact"}
    assert body["page"] == 1 and body["per_page"] == 5 and len(body["items"]) == 5
    variant = body["items"][0]["variants"][0]
    assert set(variant["price"]) == {"amount", "currency"}
    assert isinstance(variant["price"]["amount"], int) and variant["price"]["currency"] == "GBP"
    assert "cost" not in str(body) and "cost_amount" not in variant


def test_only_active_products_are_listed(client, db_session):
    statuses = dict(db_session.query(Product.slug, Product.status).all())
    listed = all_slugs(client, "per_page=100")
    assert all(statuses[slug] == "active" for slug in listed)
    hidden = [slug for slug, status in statuses.items() if status != "active"]
    assert hidden
    for slug in hidden:
        assert client.get(f"/api/v1/products/{slug}").status_code == 404


@pytest.mark.parametrize("skin_type", ["oily", "sensitive"])
def test_skin_type_filter(client, skin_type):
    for item in client.get(f"/api/v1/products?skin_type={skin_type}&per_page=100").json["items"]:
        assert skin_type in item["skin_types"]


def test_category_filter(client):
    items = client.get("/api/v1/products?category=cleansing-tools&per_page=100").json["items"]
    assert items and all(item["category"]["slug"] == "cleansing-tools" for item in items)


def test_price_range_filter_matches_some_variant(client):
    items = client.get("/api/v1/products?min_price=3000&max_price=4000&per_page=100").json["items"]
    assert items
    for item in items:
        assert any(3000 <= v["price"]["amount"] <= 4000 for v in item["variants"])


def test_min_price_above_max_price_is_refused(client):
    response = client.get("/api/v1/products?min_price=5000&max_price=100")
    assert response.status_code == 422
    assert "min_price" in response.json["errors"]


def test_in_stock_filter_follows_the_ledger(client, db_session):
    variant = db_session.query(Variant).filter_by(sku="GLW-SER-MOIST-15").one()
    level = variant.stock_level
    inventory.record_movement(
        session=db_session, variant_id=variant.id, quantity=-level.on_hand, reason="damaged"
    )
    other = db_session.query(Variant).filter_by(sku="GLW-SER-MOIST-30").one()
    inventory.record_movement(
        session=db_session, variant_id=other.id, quantity=-other.stock_level.on_hand,
        reason="damaged",
    )
    assert "moist-hyaluronic-acid-serum" not in all_slugs(client, "in_stock=true")
    assert "moist-hyaluronic-acid-serum" in all_slugs(client, "in_stock=false")
    detail = client.get("/api/v1/products/moist-hyaluronic-acid-serum").json
    assert all(v["in_stock"] is False and v["available"] == 0 for v in detail["variants"])


def test_available_is_capped_for_display(client):
    detail = client.get("/api/v1/products/glow-sonic-cleansing-brush").json
    assert all(0 <= v["available"] <= 10 for v in detail["variants"])


def test_search_finds_by_ingredient_and_name(client):
    assert "moist-hyaluronic-acid-serum" in all_slugs(client, "q=hyaluronic")
    by_ingredient = all_slugs(client, "q=salicylic")
    assert "pore-refining-cleansing-gel" in by_ingredient


def test_search_with_no_match_is_empty_not_an_error(client):
    body = client.get("/api/v1/products?q=zzzznotaword").json
    assert body["items"] == [] and body["total"] == 0


@pytest.mark.parametrize("hostile", ["' OR 1=1 --", "%", "_", "a & b | !c", "\\", "):*"])
def test_search_treats_hostile_text_as_text(client, hostile):
    response = client.get("/api/v1/products", query_string={"q": hostile})
    assert response.status_code == 200
    assert response.json["total"] < 37 or hostile == "%"


def prices(items: list[dict]) -> list[int]:
    return [min(v["price"]["amount"] for v in item["variants"]) for item in items]


def test_sort_by_price_both_ways(client):
    ascending = prices(client.get("/api/v1/products?sort=price&per_page=100").json["items"])
    descending = prices(client.get("/api/v1/products?sort=-price&per_page=100").json["items"])
    assert ascending == sorted(ascending)
    assert descending == sorted(descending, reverse=True)


def test_sort_by_name(client):
    names = [i["name"] for i in client.get("/api/v1/products?sort=name&per_page=100").json["items"]]
    assert names == sorted(names)


def test_sort_newest_first(client, db_session):
    newest = db_session.query(Product).filter_by(status="active").order_by(
        Product.created_at.desc(), Product.id.desc()).first()
    first = client.get("/api/v1/products?sort=newest&per_page=1").json["items"][0]
    assert first["slug"] == newest.slug


def test_pages_cover_every_product_once(client):
    total = client.get("/api/v1/products?per_page=1").json["total"]
    seen = []
    for page in range(1, total // 7 + 2):
        page_body = client.get(f"/api/v1/products?per_page=7&page={page}").json
        seen += [item["slug"] for item in page_body["items"]]
    assert len(seen) == len(set(seen)) == total


@pytest.mark.parametrize("query", ["per_page=0", "per_page=101", "page=0", "page=-1", "page=x"])
def test_pagination_bounds_are_validated(client, query):
    response = client.get(f"/api/v1/products?{query}")
    assert response.status_code == 422
    assert response.content_type == "application/problem+json"


def test_the_count_limit_is_the_configured_one(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "CATALOGUE_TOTAL_LIMIT", 4)  # (100 at least when configured)
    body = client.get("/api/v1/products?per_page=2&page=2").json
    assert (body["total"], body["total_exact"]) == (2 + 4, False)
    monkeypatch.setitem(app.config, "CATALOGUE_TOTAL_LIMIT", 1000)
    body = client.get("/api/v1/products?per_page=2&page=3").json
    assert body["total"] > 6 and body["total_exact"] is True


def test_page_past_the_end_is_empty(client):
    body = client.get("/api/v1/products?page=500").json
    assert body["items"] == [] and body["total"] > 0


def test_unknown_query_parameter_is_refused(client):
    response = client.get("/api/v1/products?colour=red")
    assert response.status_code == 422
    assert response.json["errors"] == {"colour": ["Unknown field."]}


def test_bad_enum_value_gets_field_error(client):
    response = client.get("/api/v1/products?skin_type=scaly&sort=popular")
    assert response.status_code == 422
    assert set(response.json["errors"]) == {"skin_type", "sort"}
    assert response.json["code"] == "validation_error"


def test_product_detail(client):
    body = client.get("/api/v1/products/moist-hyaluronic-acid-serum").json
    assert body["name"].startswith("MOIST")
    assert {"description", "how_to_use", "key_ingredients", "variants"} <= set(body)
    assert [v["name"] for v in body["variants"]] == ["15 ml", "30 ml"]


def test_unknown_product_is_a_problem(client):
    response = client.get("/api/v1/products/no-such-thing")
    assert response.status_code == 404
    assert response.content_type == "application/problem+json"
    assert response.json["code"] == "product_not_found"


def test_categories(client):
    body = client.get("/api/v1/categories").json
    assert body["total"] == len(body["items"]) >= 8
    assert client.get("/api/v1/categories/serums").json["name"] == "Serums"
    assert client.get("/api/v1/categories/nope").status_code == 404


def test_treatments_from_the_article(client):
    body = client.get("/api/v1/treatments?per_page=100").json
    slugs = {t["slug"] for t in body["items"]}
    assert {"hydra-facial", "skin-peel", "bio-revitalisation-mesotherapy", "meso-botox",
            "aquagold"} <= slugs
    hydra = client.get("/api/v1/treatments/hydra-facial").json
    assert hydra["duration_minutes"] > 0 and hydra["price"]["currency"] == "GBP"
    assert client.get("/api/v1/treatments/nope").status_code == 404


def test_treatments_by_concern(client):
    items = client.get("/api/v1/treatments?concern=enlarged-pores&per_page=100").json["items"]
    assert items and all("enlarged-pores" in t["concerns"] for t in items)


def test_etag_and_304(client):
    first = client.get("/api/v1/products?concern=enlarged-pores")
    assert first.headers["ETag"] and "max-age" in first.headers["Cache-Control"]
    again = client.get("/api/v1/products?concern=enlarged-pores",
                       headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    other = client.get("/api/v1/products?concern=dullness",
                       headers={"If-None-Match": first.headers["ETag"]})
    assert other.status_code == 200


def test_etag_changes_when_the_catalogue_changes(client, db_session):
    first = client.get("/api/v1/products/moist-hyaluronic-acid-serum")
    variant = db_session.query(Variant).filter_by(sku="GLW-SER-MOIST-15").one()
    variant.price_amount += 100
    db_session.flush()
    second = client.get("/api/v1/products/moist-hyaluronic-acid-serum",
                        headers={"If-None-Match": first.headers["ETag"]})
    assert second.status_code == 200 and second.headers["ETag"] != first.headers["ETag"]


@pytest.mark.parametrize("filters", ["", "category=serums", "q=skin", "q=skin&sort=price",
                                     "q=hyaluronic+acid", "skin_type=oily&concern=dullness"])
def test_list_query_count_is_constant_in_page_size(client, count_queries, filters):
    client.get(f"/api/v1/products?per_page=1&{filters}")  # (also opens the connection)
    counts = []
    for per_page in (1, 10, 40):
        count_queries.count = 0
        response = client.get(f"/api/v1/products?per_page={per_page}&{filters}")
        assert response.status_code == 200 and response.json["items"]
        counts.append(count_queries.count)
    assert counts[0] == counts[1] == counts[2], counts
    assert counts[0] <= 8
