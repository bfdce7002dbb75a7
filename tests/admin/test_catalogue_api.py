"""Catalogue admin over HTTP: create, edit, price, publish, archive; conflicts; audit."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from shop.audit.models import AuditEntry
from shop.catalogue.models import Variant
from shop.catalogue_version import current_catalogue_version
from shop.inventory.models import StockLevel
from tests.admin.factories import make_variant, place_order

GBP = "GBP"


def money(amount: int) -> dict:
    return {"amount": amount, "currency": GBP}


def audit_actions(db_session, entity: str | None = None) -> list[str]:
    stmt = select(AuditEntry.action).order_by(AuditEntry.id)
    if entity:
        stmt = stmt.where(AuditEntry.entity == entity)
    return list(db_session.scalars(stmt))


def new_product(client, admin, slug="calm-test-serum", **extra):
    body = {
        "slug": slug, "name": "Calm Test Serum", "category": "serums",
        "short_description": "A test serum.", "key_ingredients": ["Niacinamide"],
        "skin_types": ["sensitive"], "concerns": ["sensitivity"],
        "variants": [{"sku": f"{slug.upper()}-30", "name": "30 ml", "price": money(2500),
                      "cost": money(800), "low_stock_threshold": 4}],
        **extra,
    }
    return client.post("/api/v1/admin/products", json=body, headers=admin.headers)


def test_create_category_records_audit_and_bumps_the_version(client, admin, db_session):
    version = current_catalogue_version(db_session)
    response = client.post("/api/v1/admin/categories", headers=admin.headers,
                           json={"slug": "lip-care", "name": "Lip Care", "position": 12})
    assert response.status_code == 201, response.json
    assert response.json["slug"] == "lip-care"
    entry = db_session.scalars(select(AuditEntry).where(AuditEntry.entity == "category")).one()
    assert entry.action == "category.create" and entry.actor_id == admin.user.id
    assert entry.before is None and entry.after["name"] == "Lip Care"
    assert current_catalogue_version(db_session) == version + 1
    assert client.get("/api/v1/categories/lip-care").status_code == 200


def test_duplicate_category_slug_is_a_409_problem(client, admin):
    response = client.post("/api/v1/admin/categories", headers=admin.headers,
                           json={"slug": "cleansers", "name": "Again"})
    assert response.status_code == 409
    assert response.content_type == "application/problem+json"
    assert response.json["code"] == "slug_taken" and "slug" in response.json["errors"]


@pytest.mark.parametrize("slug", ["Lip Care", "lip--care", "-lip", "lip_care", ""])
def test_invalid_slugs_are_refused(client, admin, slug):
    response = client.post("/api/v1/admin/categories", headers=admin.headers,
                           json={"slug": slug, "name": "Lip Care"})
    assert response.status_code == 422
    assert "slug" in response.json["errors"]


def test_renaming_a_category_to_a_taken_slug_is_409(client, admin):
    response = client.patch("/api/v1/admin/categories/toners", headers=admin.headers,
                            json={"slug": "cleansers"})
    assert response.status_code == 409 and response.json["code"] == "slug_taken"


def test_an_edit_that_changes_nothing_is_not_audited(client, admin, db_session):
    current = client.get("/api/v1/admin/categories/toners", headers=admin.headers).json
    version = current_catalogue_version(db_session)
    response = client.patch("/api/v1/admin/categories/toners", headers=admin.headers,
                            json={"name": current["name"], "position": current["position"]})
    assert response.status_code == 200
    assert audit_actions(db_session) == []
    assert current_catalogue_version(db_session) == version


def test_category_in_use_cannot_be_deleted_but_an_empty_one_can(client, admin, db_session):
    in_use = client.delete("/api/v1/admin/categories/cleansers", headers=admin.headers)
    assert in_use.status_code == 409 and in_use.json["code"] == "category_in_use"
    client.post("/api/v1/admin/categories", headers=admin.headers,
                json={"slug": "empty-shelf", "name": "Empty"})
    assert client.delete("/api/v1/admin/categories/empty-shelf",
                         headers=admin.headers).status_code == 204
    assert client.get("/api/v1/admin/categories/empty-shelf",
                      headers=admin.headers).status_code == 404
    assert audit_actions(db_session, "category") == ["category.create", "category.delete"]


def test_create_product_as_draft_with_variant_and_stock_level(client, admin, db_session):
    response = new_product(client, admin)
    assert response.status_code == 201, response.json
    body = response.json
    assert body["status"] == "draft" and body["category"]["slug"] == "serums"
    variant = body["variants"][0]
    assert variant["cost"] == money(800) and variant["price"] == money(2500)
    assert variant["on_hand"] == 0 and variant["low_stock_threshold"] == 4
    level = db_session.get(StockLevel, variant["id"])
    assert level.on_hand == 0 and level.low_stock_threshold == 4
    assert client.get("/api/v1/products/calm-test-serum").status_code == 404
    assert audit_actions(db_session) == ["product.create", "variant.create"]


def test_publish_then_unpublish_controls_the_storefront(client, admin, db_session):
    new_product(client, admin)
    published = client.post("/api/v1/admin/products/calm-test-serum/publish",
                            headers=admin.headers)
    assert published.status_code == 200 and published.json["status"] == "active"
    assert client.get("/api/v1/products/calm-test-serum").status_code == 200
    unpublished = client.post("/api/v1/admin/products/calm-test-serum/unpublish",
                              headers=admin.headers)
    assert unpublished.json["status"] == "draft"
    assert client.get("/api/v1/products/calm-test-serum").status_code == 404
    archived = client.post("/api/v1/admin/products/calm-test-serum/archive",
                           headers=admin.headers)
    assert archived.json["status"] == "archived"
    assert audit_actions(db_session, "product") == [
        "product.create", "product.publish", "product.unpublish", "product.archive"]


def test_a_product_without_an_active_variant_cannot_be_published(client, admin):
    client.post("/api/v1/admin/products", headers=admin.headers,
                json={"slug": "empty-product", "name": "Empty", "category": "serums"})
    response = client.post("/api/v1/admin/products/empty-product/publish", headers=admin.headers)
    assert response.status_code == 409 and response.json["code"] == "product_not_publishable"
    created_active = client.post("/api/v1/admin/products", headers=admin.headers, json={
        "slug": "empty-active", "name": "Empty", "category": "serums", "status": "active"})
    assert created_active.status_code == 409


@pytest.mark.parametrize("sku", ["glw-lower", "HAS SPACE", "DOUBLE--DASH", "-LEADING", "X" * 65])
def test_invalid_skus_are_refused(client, admin, sku):
    response = client.post("/api/v1/admin/products/glow-sonic-cleansing-brush/variants",
                           headers=admin.headers,
                           json={"sku": sku, "name": "Bad", "price": money(100)})
    assert response.status_code == 422 and "sku" in response.json["errors"]


def test_duplicate_sku_is_a_409_problem(client, admin):
    response = client.post("/api/v1/admin/products/glow-sonic-cleansing-brush/variants",
                           headers=admin.headers,
                           json={"sku": "GLW-BRUSH-SOFT", "name": "Copy", "price": money(100)})
    assert response.status_code == 409 and response.json["code"] == "sku_taken"
    again = new_product(client, admin, slug="dup-sku-product",
                        variants=[{"sku": "GLW-BRUSH-SOFT", "name": "x", "price": money(1)}])
    assert again.status_code == 409 and again.json["code"] == "sku_taken"


def test_price_change_reaches_the_storefront_and_is_audited(client, admin, db_session):
    url = "/api/v1/admin/products/glow-sonic-cleansing-brush/variants/GLW-BRUSH-SONIC"
    response = client.patch(url, headers=admin.headers,
                            json={"price": money(7900), "compare_at_price": money(8900)})
    assert response.status_code == 200, response.json
    public = client.get("/api/v1/products/glow-sonic-cleansing-brush").json
    brush = next(v for v in public["variants"] if v["sku"] == "GLW-BRUSH-SONIC")
    assert brush["price"] == money(7900) and brush["compare_at_price"] == money(8900)
    entry = db_session.scalars(select(AuditEntry).where(AuditEntry.entity == "variant")).one()
    assert entry.action == "variant.price_change"
    assert entry.before["price_amount"] == 8900 and entry.after["price_amount"] == 7900


@pytest.mark.parametrize("body, field", [
    ({"price": {"amount": 100, "currency": "EUR"}}, "price"),
    ({"price": {"amount": -1, "currency": GBP}}, "price"),
    ({"compare_at_price": money(100)}, "compare_at_price"),
    ({"price": {"amount": 10.5, "currency": GBP}}, "price"),
])
def test_bad_prices_are_refused(client, admin, body, field):
    url = "/api/v1/admin/products/glow-sonic-cleansing-brush/variants/GLW-BRUSH-SONIC"
    response = client.patch(url, headers=admin.headers, json=body)
    assert response.status_code == 422, response.json
    assert field in response.json["errors"]


def test_sku_cannot_be_changed(client, admin):
    url = "/api/v1/admin/products/glow-sonic-cleansing-brush/variants/GLW-BRUSH-SONIC"
    response = client.patch(url, headers=admin.headers, json={"sku": "NEW-SKU"})
    assert response.status_code == 422 and "sku" in response.json["errors"]


def test_archive_variant_keeps_it_but_stops_selling(client, admin, db_session):
    url = "/api/v1/admin/products/glow-sonic-cleansing-brush/variants/GLW-BRUSH-SONIC-HEAD"
    response = client.post(f"{url}/archive", headers=admin.headers)
    assert response.status_code == 200 and response.json["is_active"] is False
    assert db_session.scalar(select(Variant).where(Variant.sku == "GLW-BRUSH-SONIC-HEAD"))
    detail = client.get("/api/v1/products/glow-sonic-cleansing-brush").json
    assert [variant["sku"] for variant in detail["variants"]] == ["GLW-BRUSH-SONIC"]
    page = client.get("/api/v1/products?q=sonic").json["items"]
    brush = next(item for item in page if item["slug"] == "glow-sonic-cleansing-brush")
    assert [variant["sku"] for variant in brush["variants"]] == ["GLW-BRUSH-SONIC"]


def test_an_archived_variant_leaves_the_routine(client, admin, db_session):
    routine = client.get("/api/v1/routine?skin_type=oily").get_data(as_text=True)
    sku = next(iter(re.findall(r'"sku": ?"(GLW-[A-Z0-9-]+)"', routine)))
    slug = db_session.scalar(select(Variant).where(Variant.sku == sku)).product.slug
    archived = client.post(f"/api/v1/admin/products/{slug}/variants/{sku}/archive",
                           headers=admin.headers)
    assert archived.status_code == 200, archived.json
    assert f'"{sku}"' not in client.get("/api/v1/routine?skin_type=oily").get_data(as_text=True)


def test_rows_with_stock_history_are_archived_not_deleted(client, admin, db_session):
    product = client.delete("/api/v1/admin/products/glow-sonic-cleansing-brush",
                            headers=admin.headers)
    assert product.status_code == 409 and product.json["code"] == "product_in_use"
    variant = client.delete(
        "/api/v1/admin/products/glow-sonic-cleansing-brush/variants/GLW-BRUSH-SONIC",
        headers=admin.headers)
    assert variant.status_code == 409 and variant.json["code"] == "variant_in_use"


def test_unused_product_and_variant_can_be_deleted(client, admin, db_session):
    new_product(client, admin)
    client.post("/api/v1/admin/products/calm-test-serum/variants", headers=admin.headers,
                json={"sku": "CALM-TEST-SERUM-50", "name": "50 ml", "price": money(3500)})
    deleted = client.delete("/api/v1/admin/products/calm-test-serum/variants/CALM-TEST-SERUM-50",
                            headers=admin.headers)
    assert deleted.status_code == 204
    assert client.delete("/api/v1/admin/products/calm-test-serum",
                         headers=admin.headers).status_code == 204
    assert db_session.scalar(select(func.count()).select_from(Variant).where(
        Variant.sku.like("CALM-TEST-SERUM%"))) == 0
    assert audit_actions(db_session)[-2:] == ["variant.delete", "product.delete"]


def test_update_product_fields_rebuilds_search(client, admin):
    response = client.patch("/api/v1/admin/products/glow-sonic-cleansing-brush",
                            headers=admin.headers,
                            json={"key_ingredients": ["Zylophonic Bristles"],
                                  "concerns": ["oiliness"], "skin_types": ["oily"]})
    assert response.status_code == 200, response.json
    assert response.json["concerns"] == ["oiliness"]
    found = client.get("/api/v1/products?q=zylophonic").json["items"]
    assert [item["slug"] for item in found] == ["glow-sonic-cleansing-brush"]


def test_unknown_category_or_concern_is_422(client, admin):
    response = client.patch("/api/v1/admin/products/glow-sonic-cleansing-brush",
                            headers=admin.headers, json={"category": "nowhere"})
    assert response.status_code == 422 and "category" in response.json["errors"]
    response = client.patch("/api/v1/admin/products/glow-sonic-cleansing-brush",
                            headers=admin.headers, json={"concerns": ["made-up"]})
    assert response.status_code == 422 and "concerns" in response.json["errors"]


def test_admin_product_list_filters_and_csv(client, admin):
    new_product(client, admin)
    drafts = client.get("/api/v1/admin/products?status=draft&per_page=100",
                        headers=admin.headers).json
    assert "calm-test-serum" in [item["slug"] for item in drafts["items"]]
    assert all(item["status"] == "draft" for item in drafts["items"])
    by_sku = client.get("/api/v1/admin/products?q=brush-soft", headers=admin.headers).json
    assert [item["slug"] for item in by_sku["items"]] == ["glow-soft-touch-cleansing-brush"]
    csv_response = client.get("/api/v1/admin/products?status=draft&format=csv",
                              headers=admin.headers)
    assert csv_response.status_code == 200
    assert csv_response.mimetype == "text/csv"
    assert "calm-test-serum" in csv_response.get_data(as_text=True)


def test_treatment_lifecycle(client, admin, db_session):
    created = client.post("/api/v1/admin/treatments", headers=admin.headers, json={
        "slug": "oxygen-glow-facial", "name": "Oxygen Glow Facial", "duration_minutes": 30,
        "price": money(6500), "concerns": ["breakouts"]})
    assert created.status_code == 201, created.json
    assert created.json["status"] == "draft"
    assert client.get("/api/v1/treatments/oxygen-glow-facial").status_code == 404
    client.post("/api/v1/admin/treatments/oxygen-glow-facial/publish", headers=admin.headers)
    assert client.get("/api/v1/treatments/oxygen-glow-facial").json["price"] == money(6500)
    updated = client.patch("/api/v1/admin/treatments/oxygen-glow-facial", headers=admin.headers,
                           json={"price": money(7000), "duration_minutes": 40})
    assert updated.json["price"] == money(7000) and updated.json["duration_minutes"] == 40
    client.post("/api/v1/admin/treatments/oxygen-glow-facial/archive", headers=admin.headers)
    assert client.get("/api/v1/treatments/oxygen-glow-facial").status_code == 404
    assert audit_actions(db_session, "treatment") == [
        "treatment.create", "treatment.publish", "treatment.update", "treatment.archive"]
    duplicate = client.post("/api/v1/admin/treatments", headers=admin.headers, json={
        "slug": "hydra-facial", "name": "x", "duration_minutes": 1, "price": money(1)})
    assert duplicate.status_code == 409


def test_every_catalogue_write_bumps_the_version(client, admin, db_session):
    start = current_catalogue_version(db_session)
    new_product(client, admin)  # product + variant: one request, version moves on
    after_create = current_catalogue_version(db_session)
    assert after_create > start
    client.post("/api/v1/admin/products/calm-test-serum/publish", headers=admin.headers)
    assert current_catalogue_version(db_session) == after_create + 1
    client.post("/api/v1/admin/products/calm-test-serum/publish", headers=admin.headers)
    assert current_catalogue_version(db_session) == after_create + 1  # already published


def test_a_price_change_reprices_carts_but_never_placed_orders(client, admin, staff,
                                                                db_session):
    variant = make_variant(db_session, price=2000, stock=10)
    order = place_order(db_session, [(variant, 1)])
    cart_id = client.post("/api/v1/carts").json["id"]
    client.post(f"/api/v1/carts/{cart_id}/items", json={"sku": variant.sku, "quantity": 1})
    response = client.patch(
        f"/api/v1/admin/products/{variant.product.slug}/variants/{variant.sku}",
        headers=admin.headers, json={"price": money(2600)})
    assert response.status_code == 200, response.json
    cart = client.get(f"/api/v1/carts/{cart_id}").json
    assert cart["items"][0]["unit_price"] == money(2600)
    placed = client.get(f"/api/v1/admin/orders/{order.id}", headers=staff.headers).json
    assert placed["lines"][0]["unit_price"] == money(2000)
