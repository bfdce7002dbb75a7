"""Orders over HTTP: a customer's own list, and one order for its owner or token holder."""

from __future__ import annotations

from shop.orders import services as orders
from tests.carts.factories import make_variant, place_order
from tests.fixtures.auth import bearer_for, make_user


def paid_order(session, *, user=None, price=1800, quantity=2):
    placed = place_order(session, [(make_variant(session, price=price), quantity)], user=user)
    orders.mark_paid(session=session, order_id=placed.order.id,
                     amount_received=placed.order.amount_due, reference="pi_api")
    return placed


def test_order_json_has_lines_totals_vat_shipping_and_events(client, db_session):
    placed = paid_order(db_session)
    response = client.get(f"/api/v1/orders/{placed.order.id}",
                          headers={"X-Order-Token": placed.access_token})
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    body = response.json
    assert body["number"] == placed.order.number and body["status"] == "paid"
    assert body["email"] == "guest@example.com" and body["paid_at"]
    [line] = body["lines"]
    assert line["quantity"] == 2 and line["kind"] == "product"
    assert line["unit_price"] == {"amount": 1800, "currency": "GBP"}
    assert line["line_total"]["amount"] == 3600
    assert line["vat"] == {"rate": 20, "amount": {"amount": 600, "currency": "GBP"}}
    totals = {name: money["amount"] for name, money in body["totals"].items()}
    assert totals == {"subtotal": 3600, "shipping": 395, "discount": 0, "vat": 600 + 66,
                      "total": 3995, "amount_due": 3995}
    assert body["vat"] == [{"rate": 20, "amount": {"amount": 666, "currency": "GBP"}}]
    assert body["shipping"]["method"] == "uk-standard"
    assert body["shipping"]["address"]["postcode"] == "W1G 9QD"
    assert [event["type"] for event in body["events"]] == ["placed", "paid"]
    assert body["vouchers"] == []


def test_a_guest_order_needs_its_token(client, db_session):
    placed = paid_order(db_session)
    url = f"/api/v1/orders/{placed.order.id}"
    assert client.get(f"{url}?access_token={placed.access_token}").status_code == 200
    assert client.get(url).status_code == 404
    assert client.get(f"{url}?access_token=guess").status_code == 404
    assert client.get(url, headers={"X-Order-Token": "guess"}).status_code == 404


def test_only_the_owner_sees_a_customer_order(client, db_session, customer, customer_headers):
    order = paid_order(db_session, user=customer).order
    url = f"/api/v1/orders/{order.id}"
    assert client.get(url, headers=customer_headers).status_code == 200
    stranger = bearer_for(db_session, make_user(db_session))
    response = client.get(url, headers=stranger)
    assert response.status_code == 404 and response.json["code"] == "order_not_found"
    assert client.get(url).status_code == 404


def test_a_customer_lists_their_own_orders_newest_first(client, db_session, customer,
                                                        customer_headers):
    mine = [paid_order(db_session, user=customer).order for _ in range(3)]
    paid_order(db_session, user=make_user(db_session))
    paid_order(db_session)
    response = client.get("/api/v1/orders?per_page=2", headers=customer_headers)
    assert response.status_code == 200
    body = response.json
    assert body["total"] == 3 and body["page"] == 1 and body["per_page"] == 2
    assert [o["id"] for o in body["items"]] == [mine[2].id, mine[1].id]
    second = client.get("/api/v1/orders?per_page=2&page=2", headers=customer_headers).json
    assert [o["id"] for o in second["items"]] == [mine[0].id]


def test_listing_orders_needs_a_customer(client):
    assert client.get("/api/v1/orders").status_code == 401


def test_orders_are_in_the_customers_data_export(client, db_session, customer, customer_headers):
    order = paid_order(db_session, user=customer).order
    response = client.get("/api/v1/me/export", headers=customer_headers)
    assert response.status_code == 200
    exported = response.json["orders"]
    assert [o["number"] for o in exported] == [order.number]
    assert exported[0]["shipping"]["address"]["line1"] == "1 Harley Street"
