"""Carts over HTTP: guest capability ids, customer ownership, pricing on read, claiming."""

from __future__ import annotations

import pytest

from shop.carts.models import Cart
from shop.catalogue.models import Product
from shop.inventory import services as inventory
from tests.carts.factories import make_variant
from tests.fixtures.auth import bearer_for, make_user


def new_cart(client, headers=None) -> dict:
    response = client.post("/api/v1/carts", headers=headers or {})
    assert response.status_code in (200, 201), response.json
    return response.json


def add(client, cart_id: str, sku: str, quantity: int = 1, headers=None):
    return client.post(f"/api/v1/carts/{cart_id}/items", json={"sku": sku, "quantity": quantity},
                       headers=headers or {})


def test_guest_cart_ids_are_long_random_and_priced_empty(client):
    first, second = new_cart(client), new_cart(client)
    assert first["id"] != second["id"] and len(first["id"]) >= 32
    assert first["status"] == "open" and first["items"] == [] and not first["purchasable"]
    assert first["totals"]["total"] == {"amount": 0, "currency": "GBP"}
    fetched = client.get(f"/api/v1/carts/{first['id']}")
    assert fetched.status_code == 200 and fetched.headers["Cache-Control"] == "no-store"


def test_unknown_cart_is_404(client):
    response = client.get("/api/v1/carts/not-a-real-cart-id")
    assert response.status_code == 404 and response.json["code"] == "cart_not_found"


def test_adding_prices_the_line_with_vat_and_shipping(client, db_session):
    variant = make_variant(db_session, price=1250, stock=8)
    cart = new_cart(client)
    response = add(client, cart["id"], variant.sku, 2)
    assert response.status_code == 201, response.json
    body = response.json
    [item] = body["items"]
    assert item["sku"] == variant.sku and item["quantity"] == 2 and item["problems"] == []
    assert item["unit_price"] == {"amount": 1250, "currency": "GBP"}
    assert item["line_total"]["amount"] == 2500
    assert item["vat"] == {"rate": 20, "amount": {"amount": 417, "currency": "GBP"}}
    assert body["shipping"]["code"] == "uk-standard" and body["shipping"]["price"]["amount"] == 395
    assert body["totals"]["subtotal"]["amount"] == 2500
    assert body["totals"]["total"]["amount"] == 2895
    assert body["totals"]["vat"]["amount"] == 417 + 66
    assert body["vat_breakdown"] == [{"rate": 20, "amount": {"amount": 483, "currency": "GBP"}}]
    assert body["discounts"] == [] and body["purchasable"] and body["requires_shipping"]


def test_adding_the_same_sku_again_merges_the_line(client, db_session):
    variant = make_variant(db_session, stock=8)
    cart = new_cart(client)
    add(client, cart["id"], variant.sku, 2)
    body = add(client, cart["id"], variant.sku, 3).json
    assert [(i["sku"], i["quantity"]) for i in body["items"]] == [(variant.sku, 5)]


def test_quantity_above_the_line_cap_is_refused(client, db_session, app):
    variant = make_variant(db_session, stock=50)
    cart = new_cart(client)
    assert add(client, cart["id"], variant.sku, 8).status_code == 201
    response = add(client, cart["id"], variant.sku, 3)
    assert response.status_code == 422 and response.json["code"] == "quantity_limit_exceeded"
    assert app.config["CART_LINE_MAX_QUANTITY"] == 10


def test_quantity_above_what_is_available_is_a_409(client, db_session):
    variant = make_variant(db_session, stock=3)
    cart = new_cart(client)
    response = add(client, cart["id"], variant.sku, 4)
    assert response.status_code == 409
    assert response.json["code"] == "insufficient_stock" and response.json["available"] == 3


@pytest.mark.parametrize("quantity", [0, -1, 1.5, "2"])
def test_quantity_must_be_a_positive_integer(client, db_session, quantity):
    variant = make_variant(db_session)
    cart = new_cart(client)
    response = add(client, cart["id"], variant.sku, quantity)
    assert response.status_code == 422 and "quantity" in response.json["errors"]


def test_unknown_sku_is_sku_not_found(client):
    cart = new_cart(client)
    response = add(client, cart["id"], "NO-SUCH-SKU")
    assert response.status_code == 422 and response.json["code"] == "sku_not_found"


def test_inactive_product_is_product_unavailable(client, db_session):
    variant = make_variant(db_session, status="archived")
    cart = new_cart(client)
    response = add(client, cart["id"], variant.sku)
    assert response.status_code == 409 and response.json["code"] == "product_unavailable"


def test_draft_products_are_unknown_skus(client, db_session):
    variant = make_variant(db_session, status="draft")
    response = add(client, new_cart(client)["id"], variant.sku)
    assert response.status_code == 422 and response.json["code"] == "sku_not_found"


def test_patch_and_delete_a_line(client, db_session):
    keep, drop = make_variant(db_session, stock=5), make_variant(db_session, stock=5)
    cart = new_cart(client)
    add(client, cart["id"], keep.sku)
    items = add(client, cart["id"], drop.sku).json["items"]
    keep_id, drop_id = items[0]["id"], items[1]["id"]
    patched = client.patch(f"/api/v1/carts/{cart['id']}/items/{keep_id}", json={"quantity": 4})
    assert patched.status_code == 200 and patched.json["items"][0]["quantity"] == 4
    too_many = client.patch(f"/api/v1/carts/{cart['id']}/items/{keep_id}", json={"quantity": 6})
    assert too_many.status_code == 409 and too_many.json["code"] == "insufficient_stock"
    deleted = client.delete(f"/api/v1/carts/{cart['id']}/items/{drop_id}")
    assert deleted.status_code == 200 and [i["id"] for i in deleted.json["items"]] == [keep_id]
    missing = client.delete(f"/api/v1/carts/{cart['id']}/items/{drop_id}")
    assert missing.status_code == 404 and missing.json["code"] == "cart_item_not_found"


def test_prices_come_from_the_catalogue_on_every_read(client, db_session):
    variant = make_variant(db_session, price=1000)
    cart = new_cart(client)
    add(client, cart["id"], variant.sku, 2)
    variant.price_amount = 1500
    db_session.flush()
    body = client.get(f"/api/v1/carts/{cart['id']}").json
    assert body["items"][0]["unit_price"]["amount"] == 1500
    assert body["totals"]["subtotal"]["amount"] == 3000


def test_lines_that_cannot_be_bought_are_flagged_not_dropped(client, db_session):
    archived, sold_out, short = (make_variant(db_session, stock=5) for _ in range(3))
    cart = new_cart(client)
    for variant, quantity in ((archived, 1), (sold_out, 1), (short, 4)):
        add(client, cart["id"], variant.sku, quantity)
    db_session.get(Product, archived.product_id).status = "archived"
    inventory.record_movement(session=db_session, variant_id=sold_out.id, quantity=-5,
                              reason="damaged")
    inventory.record_movement(session=db_session, variant_id=short.id, quantity=-2,
                              reason="damaged")
    body = client.get(f"/api/v1/carts/{cart['id']}").json
    assert [i["problems"] for i in body["items"]] == [
        ["unavailable"], ["out_of_stock"], ["insufficient_stock"]
    ]
    assert [i["available"] for i in body["items"]] == [5, 0, 3]
    assert not body["purchasable"]


def test_shipping_method_can_be_priced_on_read(client, db_session):
    variant = make_variant(db_session, price=2000, stock=5)
    cart = new_cart(client)
    add(client, cart["id"], variant.sku, 2)
    standard = client.get(f"/api/v1/carts/{cart['id']}").json
    assert standard["shipping"]["price"]["amount"] == 0  # 4000 reaches the free threshold
    next_day = client.get(f"/api/v1/carts/{cart['id']}?shipping_method=uk-next-day").json
    assert next_day["shipping"]["price"]["amount"] == 695
    assert next_day["totals"]["total"]["amount"] == 4695
    unknown = client.get(f"/api/v1/carts/{cart['id']}?shipping_method=pigeon")
    assert unknown.status_code == 422 and unknown.json["code"] == "unknown_shipping_method"
    typo = client.get(f"/api/v1/carts/{cart['id']}?shiping_method=uk-next-day")
    assert typo.status_code == 422


def test_a_customers_cart_is_theirs_alone(client, db_session, customer_headers):
    variant = make_variant(db_session)
    cart = new_cart(client, customer_headers)
    other = bearer_for(db_session, make_user(db_session))
    for headers in ({}, other):
        assert client.get(f"/api/v1/carts/{cart['id']}", headers=headers).status_code == 404
        assert add(client, cart["id"], variant.sku, headers=headers).status_code == 404
    assert add(client, cart["id"], variant.sku, headers=customer_headers).status_code == 201


def test_a_customer_gets_their_open_cart_back(client, customer_headers):
    first = client.post("/api/v1/carts", headers=customer_headers)
    second = client.post("/api/v1/carts", headers=customer_headers)
    assert first.status_code == 201 and second.status_code == 200
    assert first.json["id"] == second.json["id"]


def test_an_invalid_bearer_token_is_refused_not_ignored(client):
    response = client.post("/api/v1/carts", headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401


def test_claim_merges_a_guest_cart_into_the_customers_cart(client, db_session, customer_headers):
    both, guest_only, customer_only = (make_variant(db_session, stock=20) for _ in range(3))
    mine = new_cart(client, customer_headers)
    add(client, mine["id"], both.sku, 7, headers=customer_headers)
    add(client, mine["id"], customer_only.sku, 1, headers=customer_headers)
    guest = new_cart(client)
    add(client, guest["id"], both.sku, 6)
    add(client, guest["id"], guest_only.sku, 2)
    response = client.post(f"/api/v1/carts/{guest['id']}/claim", headers=customer_headers)
    assert response.status_code == 200, response.json
    assert response.json["id"] == mine["id"]
    quantities = {i["sku"]: i["quantity"] for i in response.json["items"]}
    assert quantities == {both.sku: 10, customer_only.sku: 1, guest_only.sku: 2}  # capped at 10
    merged = client.get(f"/api/v1/carts/{guest['id']}", headers=customer_headers).json
    assert merged["status"] == "merged" and merged["items"] == []
    again = client.post(f"/api/v1/carts/{guest['id']}/claim", headers=customer_headers)
    assert again.status_code == 200 and again.json["id"] == mine["id"]
    closed = add(client, guest["id"], both.sku, 1, headers=customer_headers)
    assert closed.status_code == 409 and closed.json["code"] == "cart_not_open"


def test_claim_adopts_the_guest_cart_when_the_customer_has_none(
    client, db_session, customer, customer_headers
):
    variant = make_variant(db_session)
    guest = new_cart(client)
    add(client, guest["id"], variant.sku, 2)
    response = client.post(f"/api/v1/carts/{guest['id']}/claim", headers=customer_headers)
    assert response.status_code == 200 and response.json["id"] == guest["id"]
    assert db_session.get(Cart, guest["id"]).user_id == customer.id
    assert client.get(f"/api/v1/carts/{guest['id']}").status_code == 404  # no longer a guest's


def test_claim_needs_a_customer_and_cannot_take_another_customers_cart(
    client, db_session, customer_headers
):
    guest = new_cart(client)
    assert client.post(f"/api/v1/carts/{guest['id']}/claim").status_code == 401
    someone = bearer_for(db_session, make_user(db_session))
    theirs = new_cart(client, someone)
    response = client.post(f"/api/v1/carts/{theirs['id']}/claim", headers=customer_headers)
    assert response.status_code == 404


def test_idempotency_key_replays_cart_creation_and_item_adds(client, db_session):
    variant = make_variant(db_session, stock=9)
    first = client.post("/api/v1/carts", headers={"Idempotency-Key": "cart-create-1"})
    replay = client.post("/api/v1/carts", headers={"Idempotency-Key": "cart-create-1"})
    assert first.status_code == replay.status_code == 201
    assert replay.json["id"] == first.json["id"]
    assert replay.headers["Idempotent-Replayed"] == "true"
    cart_id = first.json["id"]
    headers = {"Idempotency-Key": "add-1"}
    add(client, cart_id, variant.sku, 2, headers=headers)
    add(client, cart_id, variant.sku, 2, headers=headers)
    assert client.get(f"/api/v1/carts/{cart_id}").json["items"][0]["quantity"] == 2
    mismatch = add(client, cart_id, variant.sku, 3, headers=headers)
    assert mismatch.status_code == 422 and mismatch.json["code"] == "idempotency_key_mismatch"
