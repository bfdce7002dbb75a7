"""POST /orders/{id}/reorder: a past order's products back in a cart at today's prices, what
cannot be added as it was listed with the reason."""

from __future__ import annotations

from shop.accounts.models import User
from shop.carts.models import Cart
from shop.inventory import services as inventory
from shop.orders.models import OrderLine
from tests.accounts.test_api import assert_problem
from tests.carts.factories import make_cart, make_variant, place_order
from tests.fixtures.auth import bearer_for, make_user


def reorder(client, order_id: int, headers=None, token: str | None = None):
    query = f"?access_token={token}" if token else ""
    return client.post(f"/api/v1/orders/{order_id}/reorder{query}", headers=headers or {})


def quantities(body) -> dict[str, int]:
    return {item["sku"]: item["quantity"] for item in body["cart"]["items"]}


def customer(db_session) -> tuple[User, dict]:
    user = make_user(db_session)
    return user, bearer_for(db_session, user)


def test_the_products_come_back_at_todays_prices_in_a_new_cart(client, db_session):
    user, headers = customer(db_session)
    serum, mask = make_variant(db_session, price=3200), make_variant(db_session, price=1800)
    placed = place_order(db_session, [(serum, 1), (mask, 2)], user=user)
    serum.price_amount = 3400
    db_session.flush()
    response = reorder(client, placed.order.id, headers)
    assert response.status_code == 201, response.json
    body = response.json
    assert quantities(body) == {serum.sku: 1, mask.sku: 2}
    assert sorted(body["added"], key=lambda a: a["quantity"]) == [
        {"sku": serum.sku, "quantity": 1}, {"sku": mask.sku, "quantity": 2}]
    assert body["skipped"] == []
    assert body["cart"]["totals"]["subtotal"] == {"amount": 3400 + 3600, "currency": "GBP"}
    assert db_session.get(Cart, body["cart"]["id"]).user_id == user.id


def test_an_open_cart_gets_the_products_added_to_what_it_holds(client, db_session):
    user, headers = customer(db_session)
    serum, mask = make_variant(db_session, stock=10), make_variant(db_session, stock=10)
    placed = place_order(db_session, [(serum, 2)], user=user)
    cart = make_cart(db_session, [(serum, 1), (mask, 1)], user=user)
    response = reorder(client, placed.order.id, headers)
    assert response.status_code == 200, response.json
    assert response.json["cart"]["id"] == cart.id
    assert quantities(response.json) == {serum.sku: 3, mask.sku: 1}


def test_what_cannot_be_added_is_skipped_with_the_reason(client, db_session):
    user, headers = customer(db_session)
    gone, sold_out, short, fine = (make_variant(db_session, stock=5) for _ in range(4))
    placed = place_order(db_session, [(gone, 1), (sold_out, 1), (short, 4), (fine, 1)],
                         user=user)
    gone.product.status = "archived"
    inventory.record_movement(session=db_session, variant_id=sold_out.id, quantity=-4,
                              reason="damaged")
    db_session.add(OrderLine(order_id=placed.order.id, kind="voucher", sku="GLW-GV-50",
                             name="Gift voucher £50", unit_price_amount=5000, quantity=1,
                             line_total_amount=5000, vat_rate=0, vat_amount=0))
    db_session.flush()
    db_session.expire(placed.order, ["lines"])
    body = reorder(client, placed.order.id, headers).json
    assert quantities(body) == {short.sku: 1, fine.sku: 1}  # 5 - 4 sold: one left
    assert {(s["sku"], s["quantity"], s["reason"]) for s in body["skipped"]} == {
        (gone.sku, 1, "unavailable"), (sold_out.sku, 1, "out_of_stock"),
        (short.sku, 3, "insufficient_stock"), ("GLW-GV-50", 1, "gift_voucher")}
    assert all(s["name"] for s in body["skipped"])


def test_a_guest_reorders_with_the_orders_token_into_a_new_guest_cart(client, db_session):
    variant = make_variant(db_session)
    placed = place_order(db_session, [(variant, 1)])
    assert_problem(reorder(client, placed.order.id), 404, "order_not_found")
    assert_problem(reorder(client, placed.order.id, token="ot_wrong"), 404, "order_not_found")
    response = reorder(client, placed.order.id, token=placed.access_token)
    assert response.status_code == 201, response.json
    assert db_session.get(Cart, response.json["cart"]["id"]).user_id is None
    again = reorder(client, placed.order.id, token=placed.access_token)
    assert again.json["cart"]["id"] != response.json["cart"]["id"]


def test_another_customers_order_is_not_found(client, db_session):
    owner, _ = customer(db_session)
    _, stranger = customer(db_session)
    placed = place_order(db_session, [(make_variant(db_session), 1)], user=owner)
    assert_problem(reorder(client, placed.order.id, stranger), 404, "order_not_found")


def test_a_retried_reorder_adds_once(client, db_session):
    user, headers = customer(db_session)
    variant = make_variant(db_session, stock=10)
    placed = place_order(db_session, [(variant, 2)], user=user)
    keyed = {**headers, "Idempotency-Key": "reorder-7f3a"}
    first = reorder(client, placed.order.id, keyed)
    second = reorder(client, placed.order.id, keyed)
    assert first.status_code == second.status_code == 201
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert quantities(reorder(client, placed.order.id, headers).json) == {variant.sku: 4}


def test_the_per_line_limit_adds_what_fits(client, db_session, app, monkeypatch):
    user, headers = customer(db_session)
    variant = make_variant(db_session, stock=20)
    placed = place_order(db_session, [(variant, 4)], user=user)
    make_cart(db_session, [(variant, 3)], user=user)
    monkeypatch.setitem(app.config, "CART_LINE_MAX_QUANTITY", 5)
    body = reorder(client, placed.order.id, headers).json
    assert quantities(body) == {variant.sku: 5}
    assert body["added"] == [{"sku": variant.sku, "quantity": 2}]
    assert [(s["quantity"], s["reason"]) for s in body["skipped"]] == \
        [(2, "quantity_limit_exceeded")]
