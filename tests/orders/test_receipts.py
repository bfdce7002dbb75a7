"""GET /orders/{id}/receipt: the VAT receipt of a paid order, for its customer or a guest
with the order's token, escaped and script-free."""

from __future__ import annotations

from shop.orders import services as orders
from tests.accounts.test_api import assert_problem
from tests.carts.factories import make_variant, place_order
from tests.fixtures.auth import bearer_for, make_user


def receipt(client, order_id: int, token: str | None = None, headers=None):
    query = f"?access_token={token}" if token else ""
    return client.get(f"/api/v1/orders/{order_id}/receipt{query}", headers=headers or {})


def paid(db_session, placed):
    orders.mark_paid(session=db_session, order_id=placed.order.id,
                     amount_received=placed.order.amount_due, reference="pi_test")
    return placed


def test_a_paid_order_has_a_vat_receipt(client, db_session, app, monkeypatch):
    monkeypatch.setitem(app.config, "VAT_REGISTRATION_NUMBER", "GB123456789")
    monkeypatch.setitem(app.config, "SELLER_ADDRESS", "1 Harley Street, London W1G 9QD")
    variant = make_variant(db_session, price=3600, name="MOIST Serum")
    placed = paid(db_session, place_order(db_session, [(variant, 2)]))
    response = receipt(client, placed.order.id, placed.access_token)
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert "script-src" not in response.headers["Content-Security-Policy"]
    assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")
    page = response.get_data(as_text=True)
    for expected in ("VAT registration number: GB123456789", "1 Harley Street",
                     f"Receipt number: {placed.order.number}", "MOIST Serum - 30 ml",
                     "£36.00", "20%", "Total (VAT included)", "£72.00", "VAT at 20%",
                     "guest@example.com", "W1G 9QD"):
        assert expected in page, expected
    assert "£12.00" in page  # the VAT in 72.00


def test_there_is_no_receipt_before_payment(client, db_session):
    placed = place_order(db_session, [(make_variant(db_session), 1)])
    assert_problem(receipt(client, placed.order.id, placed.access_token), 409, "order_not_paid")


def test_only_the_customer_or_the_token_holder_gets_it(client, db_session):
    owner = make_user(db_session)
    placed = paid(db_session, place_order(db_session, [(make_variant(db_session), 1)],
                                          user=owner))
    assert receipt(client, placed.order.id, headers=bearer_for(db_session, owner)).status_code \
        == 200
    stranger = bearer_for(db_session, make_user(db_session))
    assert_problem(receipt(client, placed.order.id, headers=stranger), 404, "order_not_found")
    assert_problem(receipt(client, placed.order.id), 404, "order_not_found")


def test_what_the_customer_typed_is_escaped(client, db_session):
    placed = place_order(db_session, [(make_variant(db_session), 1)])
    placed.order.shipping_address = {**placed.order.shipping_address,
                                     "name": "<script>alert(1)</script>"}
    db_session.flush()
    page = receipt(client, paid(db_session, placed).order.id,
                   placed.access_token).get_data(as_text=True)
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
