"""Returns against localstripe: the customer asks within the window, staff receive, refund
(through the staff refund: Stripe, stock, email) or reject; what stays returnable."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from shop.audit.models import AuditEntry
from shop.db import as_utc, utcnow
from shop.inventory.models import StockLevel
from shop.orders.models import Order
from shop.returns.models import OrderReturn
from tests.admin.factories import refund
from tests.fixtures.auth import bearer_for, make_user
from tests.fixtures.stripe import CARD_REFUND_FAILS
from tests.payments.helpers import bank_sends_refund_back, customer_email
from tests.returns.factories import ADMIN, RETURNS, age_event, ask, dispatched_order


def money(amount: int) -> dict:
    return {"amount": amount, "currency": "GBP"}


def overview(client, order: dict) -> dict:
    response = client.get(RETURNS.format(order_id=order["id"]), headers=order["headers"])
    assert response.status_code == 200, response.json
    return response.json


def test_a_customer_returns_a_line_and_the_clinic_refunds_it(
        client, staff, admin, db_session, use_localstripe):
    order = dispatched_order(client, db_session, use_localstripe, staff)
    before = overview(client, order)
    assert before["items"] == []
    assert before["returnable"] == [{"line_id": order["line_id"], "sku": order["variant"].sku,
                                     "name": before["returnable"][0]["name"], "quantity": 2}]
    deadline = as_utc(datetime.fromisoformat(before["return_by"]))
    assert abs(deadline - (utcnow() + timedelta(days=14))) < timedelta(minutes=1)

    asked = ask(client, order, reason="reaction", note="My skin reacted to it.")
    assert asked.status_code == 201, asked.json
    body = asked.json
    assert body["status"] == "requested" and body["reason"] == "reaction"
    assert body["estimated_refund"] == money(1100) and body["refunded"] is None
    assert body["lines"] == [{"line_id": order["line_id"], "sku": order["variant"].sku,
                              "name": body["lines"][0]["name"], "quantity": 1}]
    ack = customer_email(db_session, f"return-requested:{body['id']}")
    assert ack.to == "buyer@example.com" and body["order_number"] in ack.text
    assert "GLOW Clinic, London" in ack.text and "£11.00" in ack.text
    alert = customer_email(db_session, f"return:{body['id']}:{staff.user.email}")
    assert alert is not None and "My skin reacted" in alert.text
    assert overview(client, order)["returnable"][0]["quantity"] == 1

    received = client.post(f"{ADMIN}/{body['id']}/receive", json={"note": "sealed"},
                           headers=staff.headers)
    assert received.status_code == 200 and received.json["status"] == "received"
    assert received.json["staff_note"] == "sealed" and received.json["received_at"]

    on_hand = db_session.get(StockLevel, order["variant"].id).on_hand
    refunded = client.post(f"{ADMIN}/{body['id']}/refund", json={"restock": True},
                           headers=admin.headers)
    assert refunded.status_code == 200, refunded.json
    assert refunded.json["status"] == "refunded" and refunded.json["refunded"] == money(1100)
    assert refunded.json["closed_at"] and refunded.json["handled_by_id"] == admin.user.id
    listed = use_localstripe.client.v1.refunds.list(params={"payment_intent": order["intent"]})
    assert [item.amount for item in listed.data] == [1100]
    level = db_session.get(StockLevel, order["variant"].id)
    db_session.refresh(level)
    assert level.on_hand == on_hand + 1
    assert customer_email(db_session, f"order-refund:{refunded.json['refund_id']}") is not None
    actions = set(db_session.scalars(select(AuditEntry.action)
                                     .where(AuditEntry.entity == "return")))
    assert actions == {"return.receive", "return.refund"}
    detail = client.get(f"/api/v1/admin/orders/{order['id']}", headers=staff.headers).json
    events = [event["type"] for event in detail["events"]]
    assert {"return_requested", "return_received", "return_refunded"} <= set(events)
    assert [(item["id"], item["status"]) for item in detail["returns"]] == [
        (body["id"], "refunded")]
    assert overview(client, order)["returnable"][0]["quantity"] == 1


def test_only_a_dispatched_order_within_the_window_can_be_returned(
        client, staff, db_session, use_localstripe):
    waiting = dispatched_order(client, db_session, use_localstripe, staff, completed=False)
    age_event(db_session, waiting["id"], "fulfilled", 18)  # 14 days + 5 to arrive: still open
    assert ask(client, waiting).status_code == 201
    age_event(db_session, waiting["id"], "fulfilled", 2)
    closed = ask(client, waiting)
    assert closed.status_code == 409 and closed.json["code"] == "return_window_closed"
    assert overview(client, waiting)["returnable"] == []

    collected = dispatched_order(client, db_session, use_localstripe, staff)
    age_event(db_session, collected["id"], "completed", 15)
    assert ask(client, collected).json["code"] == "return_window_closed"


def test_a_late_delivered_click_does_not_reopen_the_window(
        client, staff, db_session, use_localstripe):
    """Sent by post: the window counts from delivery, but no later than dispatch plus the
    days a parcel takes; collected at the clinic: from the collection."""
    sent = dispatched_order(client, db_session, use_localstripe, staff, sent=True,
                            completed=False)
    age_event(db_session, sent["id"], "fulfilled", 60)
    assert client.post(f"/api/v1/admin/orders/{sent['id']}/complete",
                       headers=staff.headers).status_code == 200
    assert ask(client, sent).json["code"] == "return_window_closed"
    delivered = dispatched_order(client, db_session, use_localstripe, staff, sent=True)
    age_event(db_session, delivered["id"], "fulfilled", 3)
    assert ask(client, delivered).status_code == 201
    collected = dispatched_order(client, db_session, use_localstripe, staff, completed=False)
    age_event(db_session, collected["id"], "fulfilled", 60)  # ready long ago, collected today
    assert client.post(f"/api/v1/admin/orders/{collected['id']}/complete",
                       headers=staff.headers).status_code == 200
    assert ask(client, collected).status_code == 201


def test_an_order_not_yet_dispatched_is_cancelled_not_returned(
        client, staff, admin, db_session, use_localstripe):
    order = dispatched_order(client, db_session, use_localstripe, staff)
    db_session.get(Order, order["id"]).status = "paid"
    db_session.commit()
    response = ask(client, order)
    assert response.status_code == 409 and response.json["code"] == "order_not_returnable"
    assert "cancel" in response.json["detail"]


def test_a_line_is_never_asked_back_twice_over(client, staff, db_session, use_localstripe):
    order = dispatched_order(client, db_session, use_localstripe, staff)
    first = ask(client, order, lines=[(order["line_id"], 1), (order["line_id"], 1)])
    assert first.status_code == 201 and first.json["lines"][0]["quantity"] == 2
    again = ask(client, order)
    assert again.status_code == 409 and again.json["code"] == "return_exceeds_line"
    assert again.json["returnable"] == 0
    withdrawn = client.post(f"{RETURNS.format(order_id=order['id'])}/{first.json['id']}/withdraw",
                            headers=order["headers"])
    assert withdrawn.status_code == 200 and withdrawn.json["status"] == "withdrawn"
    second = ask(client, order)
    assert second.status_code == 201
    client.post(f"{ADMIN}/{second.json['id']}/receive", json={}, headers=staff.headers)
    late = client.post(f"{RETURNS.format(order_id=order['id'])}/{second.json['id']}/withdraw",
                       headers=order["headers"])
    assert late.status_code == 409 and late.json["code"] == "invalid_return_transition"


def test_gift_vouchers_and_other_orders_lines_are_refused(
        client, staff, db_session, use_localstripe):
    order = dispatched_order(client, db_session, use_localstripe, staff, voucher=True)
    voucher = ask(client, order, lines=[(order["voucher_line_id"], 1)])
    assert voucher.status_code == 422 and "gift voucher" in voucher.json["errors"]["lines"][0]
    other = ask(client, order, lines=[(order["line_id"] + 1000, 1)])
    assert other.status_code == 422 and "not on this order" in other.json["errors"]["lines"][0]
    assert ask(client, order, reason="because").status_code == 422
    assert ask(client, order, lines=[(order["line_id"], 0)]).status_code == 422
    assert db_session.scalar(select(OrderReturn.id)) is None


def test_only_the_orders_customer_sees_or_returns_it(client, staff, db_session, use_localstripe):
    headers = bearer_for(db_session, owner := make_user(db_session))
    order = dispatched_order(client, db_session, use_localstripe, staff, headers=headers)
    assert ask(client, order).status_code == 201
    stranger = {**order, "headers": bearer_for(db_session, make_user(db_session))}
    assert ask(client, stranger).status_code == 404
    assert client.get(RETURNS.format(order_id=order["id"])).status_code == 404
    assert owner.id and overview(client, order)["items"][0]["status"] == "requested"


def test_staff_reject_with_a_reason_the_customer_is_told(
        client, staff, admin, db_session, use_localstripe):
    order = dispatched_order(client, db_session, use_localstripe, staff)
    returned = ask(client, order, reason="changed_mind").json
    assert client.post(f"{ADMIN}/{returned['id']}/reject", json={"reason": " "},
                       headers=staff.headers).status_code == 422
    rejected = client.post(f"{ADMIN}/{returned['id']}/reject",
                           json={"reason": "The serum was opened."}, headers=staff.headers)
    assert rejected.status_code == 200 and rejected.json["status"] == "rejected"
    email = customer_email(db_session, f"return-rejected:{returned['id']}")
    assert email.to == "buyer@example.com" and "The serum was opened." in email.text
    refused = client.post(f"{ADMIN}/{returned['id']}/refund", json={}, headers=admin.headers)
    assert refused.status_code == 409 and refused.json["return_status"] == "rejected"
    assert overview(client, order)["items"][0]["staff_note"] == "The serum was opened."


def test_units_in_an_open_return_are_refunded_through_it_only(
        client, staff, admin, db_session, use_localstripe):
    """Refunded directly and again when the parcel arrived, a unit would be paid back twice."""
    order = dispatched_order(client, db_session, use_localstripe, staff, quantity=2)
    returned = ask(client, order).json  # one of the two
    direct = refund(client, admin, order["id"],
                    lines=[{"line_id": order["line_id"], "quantity": 2}])
    assert direct.status_code == 409 and direct.json["code"] == "line_in_open_return"
    other = refund(client, admin, order["id"],
                   lines=[{"line_id": order["line_id"], "quantity": 1}])
    assert other.status_code == 201  # the unit not being returned
    through = client.post(f"{ADMIN}/{returned['id']}/refund", json={}, headers=admin.headers)
    assert through.status_code == 200 and through.json["refunded"] == money(1100)
    listed = use_localstripe.client.v1.refunds.list(params={"payment_intent": order["intent"]})
    assert sorted(item.amount for item in listed.data) == [1100, 1100]
    rejected = ask(client, order)
    assert rejected.status_code == 409 and rejected.json["code"] == "return_exceeds_line"


def test_staff_list_and_roles(client, staff, admin, db_session, use_localstripe):
    order = dispatched_order(client, db_session, use_localstripe, staff)
    returned = ask(client, order).json
    page = client.get(f"{ADMIN}?status=requested&order_id={order['id']}",
                      headers=staff.headers).json
    assert [item["id"] for item in page["items"]] == [returned["id"]]
    assert page["items"][0]["email"] == "buyer@example.com"
    assert client.get(f"{ADMIN}?status=refunded&order_id={order['id']}",
                      headers=staff.headers).json["total"] == 0
    csv = client.get(f"{ADMIN}?format=csv", headers=staff.headers)
    assert csv.mimetype == "text/csv" and order["variant"].sku in csv.get_data(as_text=True)
    assert client.post(f"{ADMIN}/{returned['id']}/refund", json={},
                       headers=staff.headers).status_code == 403
    assert client.get(f"{ADMIN}/999999", headers=staff.headers).json["code"] == \
        "return_not_found"


def test_a_customers_returns_are_exported_and_their_words_go_with_the_account(
        client, staff, db_session, use_localstripe):
    headers = bearer_for(db_session, make_user(db_session))
    order = dispatched_order(client, db_session, use_localstripe, staff, headers=headers)
    returned = ask(client, order, note="Too strong for me").json
    exported = client.get("/api/v1/me/export", headers=headers).json["returns"]
    assert exported[0]["note"] == "Too strong for me" and exported[0]["status"] == "requested"
    assert client.delete("/api/v1/me", headers=headers).status_code == 204
    kept = db_session.get(OrderReturn, returned["id"])
    db_session.refresh(kept)
    assert kept.note == "" and kept.status == "requested"


def test_a_return_can_be_refunded_as_store_credit(
        client, staff, admin, db_session, use_localstripe):
    order = dispatched_order(client, db_session, use_localstripe, staff)
    returned = ask(client, order).json
    refunded = client.post(f"{ADMIN}/{returned['id']}/refund",
                           json={"method": "store_credit"}, headers=admin.headers)
    assert refunded.status_code == 200, refunded.json
    assert refunded.json["refunded"] == money(1100)
    detail = client.get(f"/api/v1/admin/orders/{order['id']}", headers=staff.headers).json
    [made] = detail["refunds"]
    assert (made["store_credit_amount"], made["card_amount"]) == (money(1100), money(0))
    assert made["store_credit_voucher"]["recipient_email"] == "buyer@example.com"
    assert detail["payments"][0]["refunds"] == []


def test_a_return_whose_card_refund_the_bank_sent_back_says_so(
        client, staff, admin, db_session, use_localstripe):
    order = dispatched_order(client, db_session, use_localstripe, staff,
                             card=CARD_REFUND_FAILS)
    returned = ask(client, order).json
    refunded = client.post(f"{ADMIN}/{returned['id']}/refund", json={}, headers=admin.headers)
    assert refunded.json["refunded"] == money(1100)
    assert refunded.json["card_refund_failed"] is False
    stripe_id = client.get(f"/api/v1/admin/orders/{order['id']}", headers=staff.headers).json[
        "payments"][0]["refunds"][0]["stripe_refund_id"]
    bank_sends_refund_back(client, use_localstripe, stripe_id, "whsec_test_secret")
    after = overview(client, order)
    [shown] = after["items"]
    assert (shown["status"], shown["card_refund_failed"], shown["refunded"]) == (
        "refunded", True, money(0))
    assert [item["quantity"] for item in after["returnable"]] == [1]  # not sent back twice
    again = refund(client, admin, order["id"],
                   lines=[{"line_id": order["line_id"], "quantity": 1}])
    assert again.status_code == 201, again.json  # staff pay the returned unit back again
