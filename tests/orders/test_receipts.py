"""GET /orders/{id}/receipt: the VAT receipt of a paid order, for its customer or a guest
with the order's token, escaped and script-free; its refunds as credit notes (paid on
localstripe, refunded through the staff API), also in the order document."""

from __future__ import annotations

import secrets

from shop.orders import services as orders
from shop.promotions.models import Promotion
from tests.accounts.test_api import assert_problem
from tests.admin.test_refunds import voucher_paid_order
from tests.carts.factories import make_variant, place_order
from tests.fixtures.auth import bearer_for, make_user
from tests.fixtures.stripe import CARD_OK, CARD_REFUND_FAILS
from tests.payments.helpers import (
    bank_sends_refund_back,
    cart_with,
    checkout,
    post_event,
    stripe_event,
)

WEBHOOK_SECRET = "whsec_test_secret"  # app_config's STRIPE_WEBHOOK_SECRET


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


def test_a_receipt_without_refunds_says_nothing_of_them(client, db_session):
    placed = paid(db_session, place_order(db_session, [(make_variant(db_session), 1)]))
    page = receipt(client, placed.order.id, placed.access_token).get_data(as_text=True)
    for absent in ("Refunds", "Credit note", "Net paid", "Net VAT"):
        assert absent not in page, absent


# --- refunds ------------------------------------------------------------------------------


def gbp(amount: int) -> dict:
    return {"amount": amount, "currency": "GBP"}


def card_paid(client, localstripe, variant, quantity: int, *, code: str | None = None,
              card: str = CARD_OK) -> dict:
    """Checked out over HTTP (click and collect), paid on localstripe and synced."""
    cart_id = cart_with(client, variant, quantity)
    if code:
        assert client.put(f"/api/v1/carts/{cart_id}/promotion",
                          json={"code": code}).status_code == 200
    body = checkout(client, cart_id)
    localstripe.pay(body["payment"]["client_secret"], card=card)
    synced = client.post(f"/api/v1/orders/{body['order']['id']}/sync"
                         f"?access_token={body['access_token']}")
    assert synced.json["order"]["status"] == "paid", synced.json
    return body


def refund(client, admin_headers, order_id: int, **body) -> dict:
    response = client.post(f"/api/v1/admin/orders/{order_id}/refunds", headers=admin_headers,
                           json={"reason": "returned", **body})
    assert response.status_code == 201, response.json
    return response.json


def refunds_shown(client, body) -> tuple[str, list[dict]]:
    """The receipt page and the order document's refunds."""
    order_id, token = body["order"]["id"], body["access_token"]
    page = receipt(client, order_id, token)
    assert page.status_code == 200
    document = client.get(f"/api/v1/orders/{order_id}?access_token={token}").json
    return page.get_data(as_text=True), document["refunds"]


def test_line_and_amount_refunds_are_credit_notes(client, db_session, admin_headers,
                                                  use_localstripe):
    variant = make_variant(db_session, price=1100, name="MOIST Serum")
    body = card_paid(client, use_localstripe, variant, 2)  # 22.00, 3.67 VAT
    number, line_id = body["order"]["number"], body["order"]["lines"][0]["id"]
    refund(client, admin_headers, body["order"]["id"], lines=[{"line_id": line_id,
                                                              "quantity": 1}])
    refund(client, admin_headers, body["order"]["id"], amount=gbp(500))
    page, refunds = refunds_shown(client, body)
    section = page[page.index("<h2>Refunds</h2>"):]
    for expected in (f"{number}-R1", f"1 × MOIST Serum - 30 ml ({variant.sku})", "card £11.00",
                     "£1.83", f"{number}-R2", "amount refund", "card £5.00", "£0.84",
                     "Net paid</td><td class=n>£6.00", "Net VAT</td><td class=n>£1.00"):
        assert expected in section, expected
    assert section.index(f"{number}-R1") < section.index(f"{number}-R2")
    assert "Total (VAT included)</td><td class=n>£22.00" in page  # the receipt itself stands
    first, second = refunds
    assert first == {
        "credit_note": f"{number}-R1", "created_at": first["created_at"], "status": "refunded",
        "amount": gbp(1100), "card_amount": gbp(1100), "voucher_amount": gbp(0),
        "store_credit_amount": gbp(0), "vat": gbp(183),
        "vat_by_rate": [{"rate": 20, "net": gbp(917), "vat": gbp(183)}],
        "lines": [{"line_id": line_id, "sku": variant.sku, "name": "MOIST Serum - 30 ml",
                   "quantity": 1, "amount": gbp(1100)}]}
    assert (second["credit_note"], second["amount"], second["vat"], second["lines"]) == \
        (f"{number}-R2", gbp(500), gbp(84), [])  # 5.00 of the 11.00 left, carrying 1.84
    detail = client.get(f"/api/v1/admin/orders/{body['order']['id']}",
                        headers=admin_headers).json
    assert [(item["credit_note"], item["vat"]) for item in detail["refunds"]] == \
        [(f"{number}-R1", gbp(183)), (f"{number}-R2", gbp(84))]


def test_a_discounted_line_refunded_in_two_steps_gives_back_exactly_its_vat(
        client, db_session, admin_headers, use_localstripe):
    """3 x 10.01 less 10% (3.00) is 27.03, carrying 4.51 VAT (4.505 rounded up). A unit is
    9.01 (1.50 VAT) and the other two 18.02, which on their own carry 3.00: the last step
    takes back the 3.01 left."""
    code = f"RCPT{secrets.token_hex(3).upper()}"
    db_session.add(Promotion(code=code, description="10% off", percent_off=10, currency="GBP"))
    db_session.flush()
    body = card_paid(client, use_localstripe, make_variant(db_session, price=1001), 3,
                     code=code)
    line = body["order"]["lines"][0]
    assert (body["order"]["totals"]["total"], line["vat"]["amount"]) == (gbp(2703), gbp(451))
    for quantity in (1, 2):
        refund(client, admin_headers, body["order"]["id"],
               lines=[{"line_id": line["id"], "quantity": quantity}])
    page, refunds = refunds_shown(client, body)
    assert [(item["amount"], item["vat"]) for item in refunds] == \
        [(gbp(901), gbp(150)), (gbp(1802), gbp(301))]
    assert "Net paid</td><td class=n>£0.00" in page and "Net VAT</td><td class=n>£0.00" in page


def test_a_refund_split_over_gift_vouchers_and_the_card_shows_both(
        client, db_session, admin_headers, use_localstripe):
    body, _ = voucher_paid_order(client, db_session, use_localstripe)  # 10.00 voucher, 12.00
    refund(client, admin_headers, body["order"]["id"], amount=gbp(1500))
    page, [credit] = refunds_shown(client, body)
    assert "gift vouchers £10.00, card £5.00" in page
    assert "Net paid</td><td class=n>£7.00" in page
    assert (credit["voucher_amount"], credit["card_amount"], credit["vat"]) == \
        (gbp(1000), gbp(500), gbp(250))  # 15/22 of the 3.67 VAT


def test_a_card_refund_the_bank_sent_back_is_marked_failed_and_not_counted(
        client, db_session, admin_headers, use_localstripe):
    body = card_paid(client, use_localstripe, make_variant(db_session, price=900), 1,
                     card=CARD_REFUND_FAILS)
    made = refund(client, admin_headers, body["order"]["id"], amount=gbp(900))
    stripe_id = next(item for item in client.get(
        f"/api/v1/admin/orders/{body['order']['id']}", headers=admin_headers,
    ).json["payments"][0]["refunds"])["stripe_refund_id"]
    bank_sends_refund_back(client, use_localstripe, stripe_id, WEBHOOK_SECRET)
    page, [credit] = refunds_shown(client, body)
    assert "card £9.00 (failed: not refunded)" in page
    assert "Net paid</td><td class=n>£9.00" in page and "Net VAT</td><td class=n>£1.50" in page
    assert (credit["credit_note"], credit["status"], credit["vat"]) == \
        (made["credit_note"], "card_refund_failed", gbp(0))
    detail = client.get(f"/api/v1/admin/orders/{body['order']['id']}",
                        headers=admin_headers).json
    assert detail["refunds"][0]["vat"] == gbp(0)


def test_a_refund_given_as_store_credit_is_a_credit_note_too(
        client, db_session, admin_headers, use_localstripe):
    body = card_paid(client, use_localstripe, make_variant(db_session, price=1200), 1)
    refund(client, admin_headers, body["order"]["id"], amount=gbp(600), method="store_credit")
    page, [credit] = refunds_shown(client, body)
    assert "store credit (gift voucher) £6.00" in page and "card £" not in page
    assert "Net paid</td><td class=n>£6.00" in page and "Net VAT</td><td class=n>£1.00" in page
    assert (credit["store_credit_amount"], credit["card_amount"], credit["vat"]) == (
        gbp(600), gbp(0), gbp(100))


def test_refunded_lines_are_escaped_too(client, db_session, admin_headers, use_localstripe):
    variant = make_variant(db_session, name="<script>alert(1)</script>")
    body = card_paid(client, use_localstripe, variant, 1)
    refund(client, admin_headers, body["order"]["id"],
           lines=[{"line_id": body["order"]["lines"][0]["id"], "quantity": 1}])
    page, _ = refunds_shown(client, body)
    assert "<script>" not in page
    assert page.count("&lt;script&gt;alert(1)&lt;/script&gt;") == 2  # the sale and the refund


def test_a_refund_made_in_stripe_is_a_credit_note_too(client, db_session, use_localstripe):
    """Outside the shop (Stripe's dashboard), as the payment webhook records it."""
    body = card_paid(client, use_localstripe, make_variant(db_session, price=1200), 1)
    made = use_localstripe.client.v1.refunds.create(
        params={"payment_intent": body["payment"]["payment_intent_id"], "amount": 600})
    post_event(client, stripe_event(use_localstripe, "refund.created", made.id),
               WEBHOOK_SECRET)
    page, [credit] = refunds_shown(client, body)
    assert (credit["amount"], credit["card_amount"], credit["vat"], credit["lines"]) == \
        (gbp(600), gbp(600), gbp(100), [])
    assert "amount refund" in page and "Net paid</td><td class=n>£6.00" in page


def test_a_mixed_rate_order_refunded_by_amount_shows_the_vat_at_each_rate(
        client, db_session, admin_headers, use_localstripe):
    """A 12.00 serum (2.00 VAT at 20%) and a 50.00 money gift voucher (0%): an amount is
    shared over the rates by what is still paid at each, and each rate's share takes that
    rate's VAT; the last refund takes back what is left at every rate."""
    cart_id = cart_with(client, make_variant(db_session, price=1200, name="MOIST Serum"), 1)
    added = client.post(f"/api/v1/carts/{cart_id}/items", json={
        "sku": "GLW-GV-50", "quantity": 1,
        "voucher": {"recipient_name": "Ada", "recipient_email": "ada@example.com"}})
    assert added.status_code == 201, added.json
    body = checkout(client, cart_id)
    use_localstripe.pay(body["payment"]["client_secret"])
    client.post(f"/api/v1/orders/{body['order']['id']}/sync?access_token={body['access_token']}")
    first = refund(client, admin_headers, body["order"]["id"], amount=gbp(1000))
    # 1000 x 1200/6200 = 193.5 (the larger remainder: 194) at 20%, carrying 32; 806 at 0%
    assert first["vat_by_rate"] == [{"rate": 20, "net": gbp(162), "vat": gbp(32)},
                                    {"rate": 0, "net": gbp(806), "vat": gbp(0)}]
    assert first["vat"] == gbp(32)
    last = refund(client, admin_headers, body["order"]["id"], amount=gbp(5200))
    assert last["vat_by_rate"] == [{"rate": 20, "net": gbp(838), "vat": gbp(168)},
                                   {"rate": 0, "net": gbp(4194), "vat": gbp(0)}]
    page, refunds = refunds_shown(client, body)
    assert [item["vat_by_rate"] for item in refunds] == \
        [first["vat_by_rate"], last["vat_by_rate"]]
    section = page[page.index("<h2>Refunds</h2>"):]
    for expected in ("VAT at 20% on £1.62</td><td class=n>£0.32",
                     "VAT at 0% on £8.06</td><td class=n>£0.00",
                     "VAT at 20% on £8.38</td><td class=n>£1.68",
                     "VAT at 0% on £41.94</td><td class=n>£0.00",
                     "Net paid</td><td class=n>£0.00", "Net VAT</td><td class=n>£0.00"):
        assert expected in section, expected


def test_a_refund_of_lines_at_two_rates_shows_each_rate(client, db_session, admin_headers,
                                                         use_localstripe):
    cart_id = cart_with(client, make_variant(db_session, price=1100), 2)
    client.post(f"/api/v1/carts/{cart_id}/items", json={
        "sku": "GLW-GV-50", "quantity": 1,
        "voucher": {"recipient_name": "Ada", "recipient_email": "ada@example.com"}})
    body = checkout(client, cart_id)
    use_localstripe.pay(body["payment"]["client_secret"])
    client.post(f"/api/v1/orders/{body['order']['id']}/sync?access_token={body['access_token']}")
    serum, voucher = body["order"]["lines"]
    made = refund(client, admin_headers, body["order"]["id"],
                  lines=[{"line_id": serum["id"], "quantity": 1},
                         {"line_id": voucher["id"], "quantity": 1}])
    assert made["vat_by_rate"] == [{"rate": 20, "net": gbp(917), "vat": gbp(183)},
                                   {"rate": 0, "net": gbp(5000), "vat": gbp(0)}]
    page, [credit] = refunds_shown(client, body)
    assert credit["vat_by_rate"] == made["vat_by_rate"] and credit["vat"] == gbp(183)
    assert "VAT at 20% on £9.17</td><td class=n>£1.83" in page
    assert "VAT at 0% on £50.00</td><td class=n>£0.00" in page
