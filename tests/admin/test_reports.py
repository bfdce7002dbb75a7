"""The sales report: orders, revenue, VAT, refunds and top products, as JSON and CSV.

Other suites may leave orders behind in the shared database, so the checks compare the
report before and after this test's own sales."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from sqlalchemy import select

from shop.admin.models import OrderRefund
from shop.db import utcnow
from shop.orders import services as orders
from shop.payments.models import Refund
from tests.admin.factories import make_variant, paid_card_order, place_order, refund
from tests.fixtures.stripe import CARD_REFUND_FAILS
from tests.orders.test_receipts import WEBHOOK_SECRET, card_paid
from tests.payments.helpers import bank_sends_refund_back

URL = "/api/v1/admin/reports/sales"


def report(client, admin, query: str = "", day=None) -> dict:
    day = day or utcnow().date()
    response = client.get(f"{URL}?from={day}&to={day}{query}", headers=admin.headers)
    assert response.status_code == 200, response.json
    return response.json


def sell(db_session, variant, quantity: int):
    order = place_order(db_session, [(variant, quantity)], shipping_method="click-and-collect")
    orders.mark_paid(session=db_session, order_id=order.id, amount_received=order.amount_due,
                     reference="pi_report")
    return order


def test_orders_revenue_vat_and_top_products(client, admin, db_session):
    before = report(client, admin)
    best = make_variant(db_session, price=5000, stock=20)
    other = make_variant(db_session, price=1000, stock=20)
    orders_made = [sell(db_session, best, 2), sell(db_session, best, 1), sell(db_session, other, 1)]
    place_order(db_session, [(other, 1)])  # unpaid: not a sale
    after = report(client, admin, "&top=100")
    assert after["orders"] - before["orders"] == 3
    revenue = sum(order.total_amount for order in orders_made)
    assert after["revenue"]["amount"] - before["revenue"]["amount"] == revenue == 16000
    vat = sum(order.vat_amount for order in orders_made)
    assert after["vat"]["amount"] - before["vat"]["amount"] == vat > 0
    top = {item["sku"]: item for item in after["top_products"]}
    assert top[best.sku]["quantity"] == 3 and top[best.sku]["revenue"]["amount"] == 15000
    assert top[other.sku]["quantity"] == 1
    assert after["net_revenue"]["amount"] == after["revenue"]["amount"] - after["refunds"]["amount"]
    [today] = after["days"]
    assert today["date"] == utcnow().date().isoformat() and today["orders"] == after["orders"]


def test_refunds_count_on_the_day_they_are_made(client, admin, db_session, use_localstripe):
    order = paid_card_order(client, db_session, use_localstripe)
    before = report(client, admin)
    assert refund(client, admin, order["id"], amount={"amount": 800, "currency": "GBP"}
                  ).status_code == 201
    assert refund(client, admin, order["id"], lines=[{"line_id": order["line_id"],
                                                      "quantity": 1}]).status_code == 201
    after = report(client, admin)
    assert after["refunds"]["amount"] - before["refunds"]["amount"] == 800 + 1100
    assert after["revenue"] == before["revenue"]
    notes = client.get(f"/api/v1/admin/orders/{order['id']}", headers=admin.headers).json[
        "refunds"]
    taken_back = [note["vat"]["amount"] for note in notes]
    assert taken_back == [133, 183]  # 367 x 800/2200 rounded; the VAT in 11.00 at 20%
    assert after["refunds_vat"]["amount"] - before["refunds_vat"]["amount"] == 133 + 183
    assert after["net_vat"]["amount"] == after["vat"]["amount"] - after["refunds_vat"]["amount"]
    [today] = after["days"]
    assert today["refunds_vat"] == after["refunds_vat"]
    assert today["refunds_vat_by_rate"] == after["refunds_vat_by_rate"]
    assert rate_vat(after, 20) - rate_vat(before, 20) == 133 + 183


def test_a_card_refund_the_bank_sends_back_is_booked_on_the_day_it_failed(
        client, admin, db_session, use_localstripe):
    """Made yesterday, sent back today: yesterday stays as it was reported, and today books a
    reversal of its refund and of the VAT it took back."""
    body = card_paid(client, use_localstripe, make_variant(db_session, price=900), 1,
                     card=CARD_REFUND_FAILS)  # 9.00 carrying 1.50 VAT
    order_id = body["order"]["id"]
    made = refund(client, admin, order_id, amount={"amount": 900, "currency": "GBP"})
    assert made.status_code == 201 and made.json["vat_by_rate"][0]["vat"]["amount"] == 150
    card = db_session.scalar(select(Refund).where(Refund.order_id == order_id))
    yesterday = utcnow() - timedelta(days=1)
    card.created_at = db_session.get(OrderRefund, made.json["id"]).created_at = yesterday
    db_session.flush()
    day_before, today_before = report(client, admin, day=yesterday.date()), report(client, admin)
    bank_sends_refund_back(client, use_localstripe, card.stripe_refund_id, WEBHOOK_SECRET)
    db_session.refresh(card)
    assert card.status == "failed" and card.failed_at is not None
    day_after, today_after = report(client, admin, day=yesterday.date()), report(client, admin)
    assert day_after == day_before  # as reported, the failed refund's 9.00 and 1.50 in it
    assert today_after["refunds"]["amount"] - today_before["refunds"]["amount"] == -900
    assert today_after["refunds_vat"]["amount"] - today_before["refunds_vat"]["amount"] == -150
    assert rate_vat(today_after, 20) - rate_vat(today_before, 20) == -150
    assert today_after["net_vat"]["amount"] - today_before["net_vat"]["amount"] == 150
    [note] = client.get(f"/api/v1/admin/orders/{order_id}", headers=admin.headers).json[
        "refunds"]
    assert note["vat"]["amount"] == 0  # the credit note shows it failed, as before
    document = client.get(f"/api/v1/orders/{order_id}?access_token={body['access_token']}")
    assert document.json["refunds"][0]["status"] == "card_refund_failed"


def rate_vat(body: dict, rate: int) -> int:
    return sum(row["vat"]["amount"] for row in body["refunds_vat_by_rate"] if row["rate"] == rate)


def test_sales_report_as_csv(client, admin, db_session):
    sell(db_session, make_variant(db_session, price=2500), 2)
    body = report(client, admin)
    today = utcnow().date()
    response = client.get(f"{URL}?from={today}&to={today}",
                          headers={**admin.headers, "Accept": "text/csv"})
    assert response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    sections = [row["section"] for row in rows]
    assert sections[0] == "day" and "total" in sections and "top_product" in sections
    total = next(row for row in rows if row["section"] == "total")
    assert int(total["orders"]) == body["orders"]
    assert int(total["revenue"]) == body["revenue"]["amount"]
    assert int(total["refunds"]) == body["refunds"]["amount"]
    assert int(total["refunds_vat"]) == body["refunds_vat"]["amount"]
    by_rate = [row for row in rows if row["section"] == "total_refunds_by_rate"]
    assert sum(int(row["refunds_vat"]) for row in by_rate) == body["refunds_vat"]["amount"]
    assert {int(row["rate"]) for row in by_rate} == \
        {row["rate"] for row in body["refunds_vat_by_rate"]}


def test_a_period_without_sales(client, admin):
    future = utcnow().date() + timedelta(days=400)
    body = client.get(f"{URL}?from={future}&to={future}", headers=admin.headers).json
    assert body["orders"] == 0 and body["revenue"]["amount"] == 0
    assert body["days"] == [] and body["top_products"] == []
    assert body["average_order"]["amount"] == 0


def test_the_period_must_be_ordered(client, admin):
    response = client.get(f"{URL}?from=2026-03-01&to=2026-02-01", headers=admin.headers)
    assert response.status_code == 422


RANGE_MESSAGE = "Must be between 1900-01-01 and 9999-01-01 (UTC)."


def test_dates_at_the_calendars_ends_are_a_422_not_an_overflow(client, admin):
    """`to` is exclusive (a date means the day after), the report's default window starts
    30 days before `to`: at year 9999 or year 1 either overflowed Python's datetime (a 500)."""
    for query in ("to=9999-12-31", "to=0001-01-01", "to=0001-01-01T00:00:00%2B14:00",
                  "from=9999-12-31T23:59:59-12:00"):
        response = client.get(f"{URL}?{query}", headers=admin.headers)
        assert response.status_code == 422, (query, response.text)
        name = query.split("=")[0]
        assert response.json["errors"] == {name: [RANGE_MESSAGE]}
    for listing in ("/api/v1/admin/orders", "/api/v1/admin/audit",
                    "/api/v1/admin/stock/movements"):
        response = client.get(f"{listing}?to=9999-12-31", headers=admin.headers)
        assert response.status_code == 422, (listing, response.text)
        assert response.json["errors"] == {"to": [RANGE_MESSAGE]}
    widest = client.get(f"{URL}?from=1900-01-01&to=9998-12-31", headers=admin.headers)
    assert widest.status_code == 200, widest.text
