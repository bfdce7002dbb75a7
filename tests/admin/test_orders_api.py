"""Order admin over HTTP: lists and filters, detail, the transition table, fulfilment e-mails."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from sqlalchemy import select

from shop.admin.orders.transitions import TRANSITIONS, next_status
from shop.audit.models import AuditEntry
from shop.db import utcnow
from shop.errors import Conflict
from shop.inventory.models import StockLevel
from shop.notifications.models import OutboxEmail
from shop.orders import services as orders
from shop.orders.models import ORDER_STATUSES, Order
from shop.orders.schemas import OrderSchema
from tests.admin.factories import make_variant, place_order


def paid_order(db_session, *, email="buyer@example.com", shipping_method="uk-standard",
               quantity=2):
    variant = make_variant(db_session, stock=10)
    order = place_order(db_session, [(variant, quantity)], email=email,
                        shipping_method=shipping_method)
    orders.mark_paid(session=db_session, order_id=order.id, amount_received=order.amount_due,
                     reference="pi_test")
    return order


def order_url(order, action: str = "") -> str:
    return f"/api/v1/admin/orders/{order.id}" + (f"/{action}" if action else "")


@pytest.mark.parametrize("status", ORDER_STATUSES)
@pytest.mark.parametrize("action", sorted(TRANSITIONS))
def test_transition_table(status, action):
    allowed = {("paid", "fulfil"): "fulfilled", ("fulfilled", "complete"): "completed",
               ("pending_payment", "cancel"): "cancelled", ("paid", "cancel"): "cancelled"}
    if (status, action) in allowed:
        assert next_status(status, action) == allowed[(status, action)]
    else:
        with pytest.raises(Conflict) as refused:
            next_status(status, action)
        assert refused.value.code == "invalid_transition"


def test_list_filters_and_csv(client, staff, db_session):
    first = paid_order(db_session, email="Alice.Smith@example.com")
    second = paid_order(db_session, email="bob@example.com")
    url = "/api/v1/admin/orders"
    by_email = client.get(f"{url}?email=alice.smith", headers=staff.headers).json
    assert [item["number"] for item in by_email["items"]] == [first.number]
    by_number = client.get(f"{url}?number={second.number.lower()}", headers=staff.headers).json
    assert [item["id"] for item in by_number["items"]] == [second.id]
    paid = client.get(f"{url}?status=paid&per_page=100", headers=staff.headers).json
    assert {first.id, second.id} <= {item["id"] for item in paid["items"]}
    assert all(item["status"] == "paid" for item in paid["items"])
    assert client.get(f"{url}?status=completed&email=alice", headers=staff.headers).json[
        "total"] == 0
    today = utcnow().date()
    dated = client.get(f"{url}?from={today}&to={today}&email=example.com&per_page=100",
                       headers=staff.headers).json
    assert {first.id, second.id} <= {item["id"] for item in dated["items"]}
    tomorrow = today + timedelta(days=1)
    assert client.get(f"{url}?from={tomorrow}", headers=staff.headers).json["total"] == 0
    summary = by_email["items"][0]
    assert summary["items"] == 2 and summary["total"]["currency"] == "GBP"
    response = client.get(f"{url}?email=example.com&format=csv", headers=staff.headers)
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert {row["number"] for row in rows} >= {first.number, second.number}
    assert "total.amount" in rows[0]


def test_detail_has_lines_payments_movements_and_timeline(client, staff, db_session):
    order = paid_order(db_session)
    body = client.get(order_url(order), headers=staff.headers).json
    assert body["number"] == order.number and body["status"] == "paid"
    [line] = body["lines"]
    assert line["quantity"] == 2 and line["refunded_quantity"] == 0
    assert [event["type"] for event in body["events"]][-1] == "paid"
    assert [m["reason"] for m in body["stock_movements"]] == ["sale"]
    assert body["stock_movements"][0]["quantity"] == -2
    assert body["payments"] == [] and body["refunds"] == [] and body["vouchers"] == []
    assert body["refundable"] == {"amount": 0, "currency": "GBP"}  # nothing took a card here
    assert client.get("/api/v1/admin/orders/999999", headers=staff.headers).status_code == 404


def test_fulfil_dispatch_emails_tracking_then_complete(client, staff, db_session):
    order = paid_order(db_session)
    response = client.post(order_url(order, "fulfil"), headers=staff.headers,
                           json={"carrier": "Royal Mail", "tracking_number": "RM123456789GB"})
    assert response.status_code == 200, response.json
    assert response.json["status"] == "fulfilled"
    event = response.json["events"][-1]
    assert event["type"] == "fulfilled" and event["data"]["tracking_number"] == "RM123456789GB"
    email = db_session.scalar(select(OutboxEmail).where(
        OutboxEmail.dedupe_key == f"order-fulfilled:{order.id}"))
    assert email.to == "buyer@example.com" and "RM123456789GB" in email.text
    assert "on its way" in email.subject
    assert "royalmail.com/track-your-item#/tracking-results/RM123456789GB" in email.text
    done = client.post(order_url(order, "complete"), headers=staff.headers)
    assert done.status_code == 200 and done.json["status"] == "completed"
    actions = db_session.scalars(select(AuditEntry.action).where(
        AuditEntry.entity == "order", AuditEntry.entity_id == str(order.id))
        .order_by(AuditEntry.id)).all()
    assert actions == ["order.fulfil", "order.complete"]


def test_ready_for_collection_email(client, staff, db_session):
    order = paid_order(db_session, shipping_method="click-and-collect")
    response = client.post(order_url(order, "fulfil"), headers=staff.headers,
                           json={"collected": True})
    assert response.status_code == 200, response.json
    email = db_session.scalar(select(OutboxEmail).where(
        OutboxEmail.dedupe_key == f"order-fulfilled:{order.id}"))
    assert "ready to collect" in email.subject and order.number in email.text


@pytest.mark.parametrize("body, field", [
    ({}, "carrier"),
    ({"carrier": "DPD"}, "tracking_number"),
    ({"collected": True, "carrier": "DPD"}, "collected"),
    ({"carrier": "", "tracking_number": "X"}, "carrier"),
])
def test_fulfil_needs_tracking_or_collection(client, staff, db_session, body, field):
    order = paid_order(db_session)
    response = client.post(order_url(order, "fulfil"), headers=staff.headers, json=body)
    assert response.status_code == 422 and field in response.json["errors"]


def test_invalid_transitions_are_409(client, staff, db_session):
    order = paid_order(db_session)
    complete_paid = client.post(order_url(order, "complete"), headers=staff.headers)
    assert complete_paid.status_code == 409
    assert complete_paid.json["code"] == "invalid_transition"
    assert complete_paid.json["order_status"] == "paid"
    client.post(order_url(order, "fulfil"), headers=staff.headers,
                json={"carrier": "DPD", "tracking_number": "1"})
    again = client.post(order_url(order, "fulfil"), headers=staff.headers,
                        json={"carrier": "DPD", "tracking_number": "2"})
    assert again.status_code == 409
    cancel = client.post(order_url(order, "cancel"), headers=staff.headers, json={})
    assert cancel.status_code == 409 and cancel.json["code"] == "invalid_transition"


def test_cancel_an_unpaid_order_releases_its_stock(client, staff, db_session):
    variant = make_variant(db_session, stock=5)
    order = place_order(db_session, [(variant, 3)])
    assert db_session.get(StockLevel, variant.id).reserved == 3
    response = client.post(order_url(order, "cancel"), headers=staff.headers,
                           json={"reason": "customer phoned"})
    assert response.status_code == 200, response.json
    assert response.json["status"] == "cancelled"
    level = db_session.get(StockLevel, variant.id)
    db_session.refresh(level)
    assert (level.on_hand, level.reserved) == (5, 0)
    entry = db_session.scalars(select(AuditEntry).where(AuditEntry.action == "order.cancel")).one()
    assert entry.after["reason"] == "customer phoned"
    fulfil = client.post(order_url(order, "fulfil"), headers=staff.headers,
                         json={"collected": True})
    assert fulfil.status_code == 409


def test_a_paid_order_is_cancelled_only_once_refunded(client, staff, db_session):
    order = paid_order(db_session)
    order.amount_due = 0  # paid by a gift voucher in full: refunds would credit it back
    db_session.flush()
    response = client.post(order_url(order, "cancel"), headers=staff.headers, json={})
    assert response.status_code == 409 and response.json["code"] == "order_not_refunded"
    assert db_session.get(Order, order.id).status == "paid"


NEW_ADDRESS = {"name": "Ada Buyer", "line1": "2 Wimpole Street", "city": "London",
               "postcode": "w1g 9sp"}


def test_staff_send_a_parcel_to_a_corrected_address(client, staff, db_session):
    order = paid_order(db_session)
    response = client.put(order_url(order, "shipping-address"), headers=staff.headers,
                          json=NEW_ADDRESS)
    assert response.status_code == 200, response.json
    address = response.json["shipping"]["address"]
    assert (address["line1"], address["postcode"]) == ("2 Wimpole Street", "W1G 9SP")
    event = response.json["events"][-1]
    assert event["type"] == "shipping_address_changed"
    assert event["data"]["staff_user_id"] == staff.user.id
    email = db_session.scalar(select(OutboxEmail).where(
        OutboxEmail.dedupe_key.startswith(f"order-address-changed:{order.id}:")))
    assert email.to == "buyer@example.com" and "2 Wimpole Street" in email.text
    assert order.number in email.subject
    entry = db_session.scalar(select(AuditEntry).where(
        AuditEntry.action == "order.change_shipping_address"))
    assert entry.before["shipping_address"]["line1"] != "2 Wimpole Street"
    assert entry.after["shipping_address"]["postcode"] == "W1G 9SP"
    again = client.put(order_url(order, "shipping-address"), headers=staff.headers,
                       json=NEW_ADDRESS)
    assert again.status_code == 200
    assert [e["type"] for e in again.json["events"]].count("shipping_address_changed") == 1
    elsewhere = client.put(order_url(order, "shipping-address"), headers=staff.headers,
                           json={**NEW_ADDRESS, "line1": "3 Harley Street"})
    assert elsewhere.status_code == 200
    assert len(db_session.scalars(select(OutboxEmail).where(
        OutboxEmail.dedupe_key.startswith(f"order-address-changed:{order.id}:"))).all()) == 2


def test_no_new_address_once_dispatched_or_for_a_collection(client, staff, db_session):
    order = paid_order(db_session)
    client.post(order_url(order, "fulfil"), headers=staff.headers,
                json={"carrier": "Royal Mail", "tracking_number": "RM1"})
    late = client.put(order_url(order, "shipping-address"), headers=staff.headers,
                      json=NEW_ADDRESS)
    assert late.status_code == 409 and late.json["code"] == "order_already_dispatched"
    collected = paid_order(db_session, shipping_method="click-and-collect")
    response = client.put(order_url(collected, "shipping-address"), headers=staff.headers,
                          json=NEW_ADDRESS)
    assert response.status_code == 409 and response.json["code"] == "order_not_delivered"
    db_session.expire_all()
    assert db_session.get(Order, collected.id).shipping_address is None


@pytest.mark.parametrize(("body", "field"), [
    ({**NEW_ADDRESS, "postcode": "NOT A CODE"}, "postcode"),
    ({**NEW_ADDRESS, "country": "FR"}, "country"),
    ({"line1": "2 Wimpole Street"}, "name"),
])
def test_a_new_address_is_validated_as_at_checkout(client, staff, db_session, body, field):
    order = paid_order(db_session)
    before = order.shipping_address
    response = client.put(order_url(order, "shipping-address"), headers=staff.headers, json=body)
    assert response.status_code == 422 and field in response.json["errors"]
    db_session.expire_all()
    assert db_session.get(Order, order.id).shipping_address == before


def test_staff_keep_notes_on_an_order_the_customer_never_sees(client, staff, admin, db_session):
    order = paid_order(db_session)
    url = order_url(order, "notes")
    first = client.post(url, headers=staff.headers, json={"text": "  Called: collects Friday "})
    assert first.status_code == 201, first.json
    assert first.json["text"] == "Called: collects Friday"
    assert first.json["staff"]["email"] == staff.user.email
    client.post(url, headers=admin.headers, json={"text": "Refund agreed by phone"})
    detail = client.get(order_url(order), headers=staff.headers).json
    assert [note["text"] for note in detail["notes"]] == [
        "Called: collects Friday", "Refund agreed by phone"]
    assert detail["notes"][1]["staff"]["email"] == admin.user.email
    placed_by = db_session.get(Order, order.id)
    customer_view = OrderSchema().dump(placed_by)
    assert "collects Friday" not in str(customer_view) and "notes" not in customer_view


@pytest.mark.parametrize("text", ["", "   ", "x" * 2001])
def test_a_note_needs_words_within_bounds(client, staff, db_session, text):
    order = paid_order(db_session)
    response = client.post(order_url(order, "notes"), headers=staff.headers, json={"text": text})
    assert response.status_code == 422 and "text" in response.json["errors"]
    assert client.get(order_url(order), headers=staff.headers).json["notes"] == []


def test_a_note_on_no_order_is_404(client, staff):
    response = client.post("/api/v1/admin/orders/99999999/notes", headers=staff.headers,
                           json={"text": "lost"})
    assert response.status_code == 404
