"""GET /me/wishlist, PUT and DELETE /me/wishlist/{slug}: a customer's saved products, listed
as the catalogue lists them; those taken off sale stay, flagged; the data goes with the
account; saves at once keep one row and the limit."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select, update

from shop.accounts.models import User
from shop.catalogue.models import Concern, Variant
from shop.db import utcnow
from shop.errors import Unauthorized
from shop.extensions import db
from shop.inventory import services as inventory
from shop.wishlist import services as wishlist
from shop.wishlist.models import WishlistItem
from shop.wishlist.services import headline
from tests.accounts.test_api import assert_problem
from tests.carts.factories import make_variant
from tests.fixtures.auth import bearer_for, make_user

WISHLIST = "/api/v1/me/wishlist"


def save(client, slug, headers):
    return client.put(f"{WISHLIST}/{slug}", headers=headers)


def remove(client, slug, headers):
    return client.delete(f"{WISHLIST}/{slug}", headers=headers)


def listed(client, headers, **query) -> dict:
    response = client.get(WISHLIST, headers=headers, query_string=query)
    assert response.status_code == 200, response.json
    return response.json


def slugs(page: dict) -> list[str]:
    return [item["product"]["slug"] for item in page["items"]]


def rows(session, user=None) -> list[WishlistItem]:
    session.expire_all()
    stmt = select(WishlistItem)
    if user is not None:
        stmt = stmt.where(WishlistItem.user_id == user.id)
    return list(session.scalars(stmt))


@pytest.fixture
def serum(db_session):
    variant = make_variant(db_session, price=2400, stock=3, name="MOIST Hyaluronic Acid Serum")
    variant.product.concerns = list(db_session.scalars(
        select(Concern).where(Concern.slug.in_(["dehydration", "fine-lines"]))))
    variant.product.skin_types = ["dry", "normal"]
    db_session.flush()
    return variant


def test_a_saved_product_is_listed_as_the_catalogue_lists_it_then_removed(
    client, db_session, customer_headers, serum
):
    slug = serum.product.slug
    response = save(client, slug, customer_headers)
    assert response.status_code == 201, response.json
    entry = response.json
    assert entry["available"] is True and entry["saved_at"]
    product = entry["product"]
    assert (product["slug"], product["name"]) == (slug, "MOIST Hyaluronic Acid Serum")
    assert (product["price"], product["price_is_from"], product["in_stock"]) == (
        {"amount": 2400, "currency": "GBP"}, False, True)
    # the rest is the catalogue's own product summary, field for field
    detail = client.get(f"/api/v1/products/{slug}").json
    summary = {key: value for key, value in product.items()
               if key not in ("price", "price_is_from", "in_stock")}
    assert summary == {key: detail[key] for key in summary}
    assert {"category", "image_urls", "variants", "concerns", "skin_types"} <= set(summary)
    assert (summary["concerns"], summary["skin_types"]) == (["dehydration", "fine-lines"],
                                                            ["dry", "normal"])

    page = listed(client, customer_headers)
    assert (page["page"], page["per_page"], page["total"]) == (1, 24, 1)
    assert page["items"] == [entry]
    assert response.headers["Cache-Control"] == "no-store"

    assert remove(client, slug, customer_headers).status_code == 204
    assert listed(client, customer_headers)["items"] == []
    assert_problem(remove(client, slug, customer_headers), 404, "wishlist_item_not_found")


def test_saving_a_saved_product_again_is_200_and_changes_nothing(
    client, db_session, customer, customer_headers, serum
):
    first = save(client, serum.product.slug, customer_headers)
    again = save(client, serum.product.slug, customer_headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json == first.json  # saved_at is when it was first saved
    assert len(rows(db_session, customer)) == 1


def test_only_products_on_sale_can_be_saved(client, db_session, customer_headers):
    assert_problem(save(client, "no-such-product", customer_headers), 404, "product_not_found")
    for status in ("draft", "archived"):
        variant = make_variant(db_session, status=status)
        assert_problem(save(client, variant.product.slug, customer_headers), 404,
                       "product_not_found")
    assert rows(db_session) == []


def test_a_product_taken_off_sale_stays_listed_flagged_unavailable(
    client, db_session, customer_headers, serum
):
    kept = make_variant(db_session)
    for variant in (serum, kept):
        assert save(client, variant.product.slug, customer_headers).status_code == 201
    for status in ("draft", "archived"):
        serum.product.status = status
        db_session.flush()
        page = listed(client, customer_headers)
        assert [(item["product"]["slug"], item["available"], item["product"]["in_stock"])
                for item in page["items"]] == [(kept.product.slug, True, True),
                                               (serum.product.slug, False, False)]
        assert page["total"] == 2
    # saving it again is refused, yet it can still be taken off
    assert_problem(save(client, serum.product.slug, customer_headers), 404, "product_not_found")
    assert remove(client, serum.product.slug, customer_headers).status_code == 204
    assert slugs(listed(client, customer_headers)) == [kept.product.slug]


def test_the_price_is_from_the_cheapest_variant_on_sale(
    client, db_session, customer_headers, serum
):
    product = serum.product
    dearer = Variant(sku=f"{serum.sku}-50", name="50 ml", price_amount=3900, currency="GBP",
                     position=1)
    withdrawn = Variant(sku=f"{serum.sku}-5", name="5 ml", price_amount=500, currency="GBP",
                        position=2, is_active=False)
    for variant in (dearer, withdrawn):
        product.variants.append(variant)
        inventory.create_level(session=db_session, variant=variant)
    db_session.flush()
    entry = save(client, product.slug, customer_headers).json["product"]
    assert (entry["price"], entry["price_is_from"]) == ({"amount": 2400, "currency": "GBP"}, True)
    assert entry["in_stock"] is True  # the 30 ml has stock; the 50 ml has none
    inventory.record_movement(session=db_session, variant_id=serum.id, quantity=-3,
                              reason="damaged")
    [item] = listed(client, customer_headers)["items"]
    assert item["product"]["in_stock"] is False and item["available"] is True


def test_the_headline_of_a_product_card():
    def variant(id_, amount, in_stock=True):
        return {"id": id_, "price": {"amount": amount, "currency": "GBP"}, "in_stock": in_stock}

    one_size = [variant(1, 1200)]
    assert headline(one_size, {1}, available=True) == {
        "price": {"amount": 1200, "currency": "GBP"}, "price_is_from": False, "in_stock": True}
    sizes = [variant(1, 2400, in_stock=False), variant(2, 1800, in_stock=False),
             variant(3, 900)]
    assert headline(sizes, {1, 2}, available=True) == {
        "price": {"amount": 1800, "currency": "GBP"}, "price_is_from": True, "in_stock": False}
    assert headline(sizes, {3}, available=False)["in_stock"] is False
    assert headline(sizes, set(), available=True) == {
        "price": None, "price_is_from": False, "in_stock": False}


def test_a_full_wishlist_refuses_another_product(
    client, db_session, app, monkeypatch, customer_headers
):
    monkeypatch.setitem(app.config, "WISHLIST_MAX_ITEMS", 2)
    first, second, third = (make_variant(db_session).product.slug for _ in range(3))
    for slug in (first, second):
        assert save(client, slug, customer_headers).status_code == 201
    body = assert_problem(save(client, third, customer_headers), 409, "wishlist_full")
    assert body["limit"] == 2
    assert save(client, first, customer_headers).status_code == 200  # already saved: fine
    assert remove(client, first, customer_headers).status_code == 204
    assert save(client, third, customer_headers).status_code == 201
    assert slugs(listed(client, customer_headers)) == [third, second]


def test_a_customer_neither_sees_nor_removes_anothers_wishlist(
    client, db_session, customer, customer_headers, serum
):
    other = bearer_for(db_session, make_user(db_session))
    assert save(client, serum.product.slug, customer_headers).status_code == 201
    assert listed(client, other) == {"items": [], "page": 1, "per_page": 24, "total": 0}
    assert_problem(remove(client, serum.product.slug, other), 404, "wishlist_item_not_found")
    assert len(rows(db_session, customer)) == 1
    assert save(client, serum.product.slug, other).status_code == 201  # their own, separately
    assert len(rows(db_session)) == 2


def test_the_wishlist_needs_a_signed_in_customer(client, serum):
    slug = serum.product.slug
    for response in (client.get(WISHLIST), client.put(f"{WISHLIST}/{slug}"),
                     client.delete(f"{WISHLIST}/{slug}")):
        assert_problem(response, 401, "authentication_required")


def test_the_wishlist_is_in_the_export_and_goes_with_the_account(client, db_session, serum):
    user = make_user(db_session)
    headers = bearer_for(db_session, user)
    assert save(client, serum.product.slug, headers).status_code == 201
    export = client.get("/api/v1/me/export", headers=headers).json
    [saved] = export["wishlist"]
    assert (saved["product"], saved["name"]) == (serum.product.slug, "MOIST Hyaluronic Acid Serum")
    assert saved["saved_at"]
    assert client.delete("/api/v1/me", headers=headers).status_code == 204
    assert rows(db_session, user) == []
    db_session.refresh(user)
    assert user.deleted_at is not None  # anonymised, not deleted: no cascade did it


def test_a_save_that_waited_for_the_accounts_deletion_saves_nothing(db_session, serum):
    """The save reads the account locked: one that waited for a deletion to commit finds it
    deleted (here, deleted behind the session's back) and is refused."""
    user = make_user(db_session)
    db_session.execute(update(User).where(User.id == user.id).values(deleted_at=utcnow()))
    with pytest.raises(Unauthorized):
        wishlist.save(session=db_session, user=user, slug=serum.product.slug)
    assert rows(db_session, user) == []


def test_the_wishlist_is_paginated_most_recently_saved_first(client, db_session,
                                                             customer_headers):
    saved = [make_variant(db_session).product.slug for _ in range(5)]
    for slug in saved:
        assert save(client, slug, customer_headers).status_code == 201
    newest_first = saved[::-1]
    first = listed(client, customer_headers, per_page=2)
    assert (slugs(first), first["total"], first["per_page"]) == (newest_first[:2], 5, 2)
    assert slugs(listed(client, customer_headers, per_page=2, page=3)) == newest_first[4:]
    assert slugs(listed(client, customer_headers, per_page=2, page=4)) == []
    assert slugs(listed(client, customer_headers, per_page=100)) == newest_first
    assert_problem(client.get(WISHLIST, headers=customer_headers, query_string={"per_page": 101}),
                   422, "validation_error")


def _race_customer(app, products: int) -> tuple[dict, list[str]]:
    with app.app_context():
        user = make_user(db.session)
        headers = bearer_for(db.session, user)
        product_slugs = [make_variant(db.session).product.slug for _ in range(products)]
        db.session.commit()
        db.session.remove()
    return headers, product_slugs


def _count_rows(app) -> int:
    with app.app_context():
        count = db.session.scalar(select(func.count()).select_from(WishlistItem))
        db.session.remove()
    return count


@pytest.mark.postgresql_only
def test_the_same_product_saved_at_once_from_many_devices_is_one_row(pooled_app):
    race_app = pooled_app(6)
    headers, [slug] = _race_customer(race_app, 1)
    with ThreadPoolExecutor(max_workers=4) as pool:
        statuses = list(pool.map(
            lambda _: save(race_app.test_client(), slug, headers).status_code, range(8)))
    assert sorted(statuses) == [200] * 7 + [201]
    assert _count_rows(race_app) == 1


@pytest.mark.postgresql_only
def test_products_saved_at_once_stop_at_the_limit(pooled_app):
    race_app = pooled_app(6, WISHLIST_MAX_ITEMS=3)
    headers, product_slugs = _race_customer(race_app, 6)
    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = list(pool.map(
            lambda slug: save(race_app.test_client(), slug, headers).status_code,
            product_slugs))
    assert sorted(statuses) == [201] * 3 + [409] * 3
    assert _count_rows(race_app) == 3
