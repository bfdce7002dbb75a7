"""Staff refunds against localstripe: lines or amounts, restocking, the Stripe refund and its
idempotency key, and the limit of what was paid."""

from __future__ import annotations

from sqlalchemy import func, select

from shop.admin.models import OrderRefund
from shop.audit.models import AuditEntry
from shop.db import utcnow
from shop.inventory.models import StockLevel, StockMovement
from shop.money import Money
from shop.notifications import sealing
from shop.orders import services as orders_services
from shop.orders.models import OrderLine
from shop.payments.models import Refund
from shop.vouchers import codes
from shop.vouchers import services as voucher_services
from shop.vouchers.models import Voucher
from tests.admin.factories import make_variant, paid_card_order, place_order, refund
from tests.fixtures.stripe import CARD_REFUND_FAILS
from tests.payments.helpers import bank_sends_refund_back, customer_email

GBP = "GBP"
REPORT = "/api/v1/admin/reports/sales"


def money(amount: int) -> dict:
    return {"amount": amount, "currency": GBP}


def stripe_refunds(localstripe, intent_id: str) -> list[dict]:
    listed = localstripe.client.v1.refunds.list(params={"payment_intent": intent_id, "limit": 100})
    return [item.to_dict() for item in listed.data]


def test_refund_a_line_and_put_it_back_on_the_shelf(client, admin, db_session, use_localstripe):
    order = paid_card_order(client, db_session, use_localstripe)
    on_hand = db_session.get(StockLevel, order["variant"].id).on_hand
    response = refund(client, admin, order["id"], restock=True,
                      lines=[{"line_id": order["line_id"], "quantity": 1}])
    assert response.status_code == 201, response.json
    body = response.json
    assert body["amount"] == money(1100) and body["card_amount"] == money(1100)
    assert body["voucher_amount"] == money(0) and body["staff"]["id"] == admin.user.id
    assert body["vat"] == money(183)  # the VAT in 11.00, at 20%
    assert body["lines"] == [{"line_id": order["line_id"], "sku": order["variant"].sku,
                              "quantity": 1, "amount": money(1100)}]
    [at_stripe] = stripe_refunds(use_localstripe, order["intent"])
    assert at_stripe["amount"] == 1100
    row = db_session.scalar(select(Refund).where(Refund.order_id == order["id"]))
    assert row.stripe_refund_id == at_stripe["id"]
    assert row.idempotency_key.startswith(f"order-{order['id']}-staff-refund-1-")
    level = db_session.get(StockLevel, order["variant"].id)
    db_session.refresh(level)
    assert level.on_hand == on_hand + 1
    returned = db_session.scalar(select(StockMovement).where(
        StockMovement.order_id == order["id"], StockMovement.reason == "returned"))
    assert returned.quantity == 1 and returned.staff_user_id == admin.user.id
    detail = client.get(f"/api/v1/admin/orders/{order['id']}", headers=admin.headers).json
    assert detail["lines"][0]["refunded_quantity"] == 1
    assert detail["refunded"] == money(1100) and detail["refundable"] == money(1100)
    assert detail["refunds"][0]["credit_note"] == body["credit_note"] == f"{detail['number']}-R1"
    assert detail["payments"][0]["refunds"][0]["amount"] == 1100
    assert "staff_refund" in [event["type"] for event in detail["events"]]
    entry = db_session.scalars(select(AuditEntry).where(AuditEntry.action == "order.refund")).one()
    assert (entry.before["refunded"], entry.after["refunded"]) == (0, 1100)
    email = customer_email(db_session, f"order-refund:{body['id']}")
    assert email.to == "buyer@example.com" and "refund for order" in email.subject
    assert "We have refunded £11.00" in email.text and "back to the card" in email.text
    line = db_session.get(OrderLine, order["line_id"])
    assert f"1 x {line.name}" in email.text and "gift voucher" not in email.text


def test_refunds_never_exceed_what_was_paid(client, admin, db_session, use_localstripe):
    order = paid_card_order(client, db_session, use_localstripe)
    assert refund(client, admin, order["id"], amount=money(1500)).status_code == 201
    too_much = refund(client, admin, order["id"], amount=money(701))
    assert too_much.status_code == 409
    assert too_much.json["code"] == "refund_exceeds_payment" and too_much.json["refundable"] == 700
    assert refund(client, admin, order["id"], amount=money(700)).status_code == 201
    assert refund(client, admin, order["id"], amount=money(1)).status_code == 409
    assert sum(r["amount"] for r in stripe_refunds(use_localstripe, order["intent"])) == 2200


def test_a_line_cannot_be_refunded_twice(client, admin, db_session, use_localstripe):
    order = paid_card_order(client, db_session, use_localstripe)
    line = {"line_id": order["line_id"], "quantity": 2}
    assert refund(client, admin, order["id"], lines=[line]).status_code == 201
    again = refund(client, admin, order["id"], lines=[{**line, "quantity": 1}])
    assert again.status_code == 409 and again.json["code"] == "refund_exceeds_line"
    unknown = refund(client, admin, order["id"], lines=[{"line_id": 999999, "quantity": 1}])
    assert unknown.status_code == 422


def test_lines_whose_card_refund_failed_can_be_refunded_again_without_restocking_twice(
        client, admin, db_session, use_localstripe):
    order = paid_card_order(client, db_session, use_localstripe, card=CARD_REFUND_FAILS)
    on_hand = db_session.get(StockLevel, order["variant"].id).on_hand
    one = [{"line_id": order["line_id"], "quantity": 1}]
    first = refund(client, admin, order["id"], restock=True, lines=one)
    assert first.status_code == 201, first.json
    bank_sends_refund_back(client, use_localstripe, _stripe_refund_id(client, admin, order),
                           "whsec_test_secret")
    detail = client.get(f"/api/v1/admin/orders/{order['id']}", headers=admin.headers).json
    assert detail["lines"][0]["refunded_quantity"] == 0
    assert detail["refundable"] == money(2200)

    again = refund(client, admin, order["id"], restock=True, lines=one)
    assert again.status_code == 201, again.json
    assert again.json["amount"] == money(1100)
    assert _on_hand(db_session, order) == on_hand + 1  # the unit was back on the shelf already
    last = refund(client, admin, order["id"], restock=True, lines=one)
    assert last.status_code == 201, last.json
    assert _on_hand(db_session, order) == on_hand + 2
    over = refund(client, admin, order["id"], lines=one)
    assert over.status_code == 409 and over.json["code"] == "refund_exceeds_line"
    moved = db_session.scalars(select(StockMovement.quantity).where(
        StockMovement.order_id == order["id"], StockMovement.reason == "returned")).all()
    assert sorted(moved) == [1, 1]


def test_units_a_failed_refund_left_on_the_shelf_are_taken_first_restocking_or_not(
        client, admin, db_session, use_localstripe):
    """Three units: A is refunded onto the shelf and the bank sends it back; A is refunded
    again without restocking (it is on the shelf), B onto the shelf; the bank sends A's second
    refund back too; A refunded a third time, restocking, finds it on the shelf. Two units are
    refunded and two are back: none counted in twice, none missed."""
    order = paid_card_order(client, db_session, use_localstripe, quantity=3,
                            card=CARD_REFUND_FAILS)
    on_hand = _on_hand(db_session, order)
    one = [{"line_id": order["line_id"], "quantity": 1}]

    def refunded(restock: bool) -> int:
        response = refund(client, admin, order["id"], restock=restock, lines=one)
        assert response.status_code == 201, response.json
        return response.json["id"]

    def bank_sends_back(staff_refund_id: int) -> None:
        card = db_session.get(Refund, db_session.get(OrderRefund, staff_refund_id)
                              .payment_refund_id)
        bank_sends_refund_back(client, use_localstripe, card.stripe_refund_id,
                               "whsec_test_secret")

    bank_sends_back(refunded(restock=True))
    assert _on_hand(db_session, order) == on_hand + 1
    again = refunded(restock=False)
    refunded(restock=True)
    assert _on_hand(db_session, order) == on_hand + 2
    bank_sends_back(again)
    refunded(restock=True)
    assert _on_hand(db_session, order) == on_hand + 2
    detail = client.get(f"/api/v1/admin/orders/{order['id']}", headers=admin.headers).json
    assert detail["lines"][0]["refunded_quantity"] == 2


def test_a_refund_that_paid_back_gift_vouchers_keeps_its_lines_when_the_card_part_fails(
        client, admin, db_session, use_localstripe):
    order, _ = voucher_paid_order(client, db_session, use_localstripe,
                                  card=CARD_REFUND_FAILS)
    made = refund(client, admin, order["order"]["id"],
                  lines=[{"line_id": order["order"]["lines"][0]["id"], "quantity": 2}])
    assert made.status_code == 201 and made.json["voucher_amount"]["amount"] > 0
    assert made.json["card_amount"]["amount"] > 0
    bank_sends_refund_back(client, use_localstripe,
                           _stripe_refund_id(client, admin, {"id": order["order"]["id"]}),
                           "whsec_test_secret")
    detail = client.get(f"/api/v1/admin/orders/{order['order']['id']}",
                        headers=admin.headers).json
    assert detail["lines"][0]["refunded_quantity"] == 2  # the rest goes back as an amount
    assert detail["refundable"] == made.json["card_amount"]


def test_store_credit_pays_a_refund_back_as_a_gift_voucher_for_the_customer(
        client, admin, db_session, use_localstripe):
    order = paid_card_order(client, db_session, use_localstripe)
    on_hand = _on_hand(db_session, order)
    before = client.get(f"{REPORT}?from={utcnow().date()}&to={utcnow().date()}",
                        headers=admin.headers).json
    made = refund(client, admin, order["id"], method="store_credit", restock=True,
                  lines=[{"line_id": order["line_id"], "quantity": 1}])
    assert made.status_code == 201, made.json
    body = made.json
    assert (body["amount"], body["store_credit_amount"]) == (money(1100), money(1100))
    assert body["status"] == "refunded"
    assert (body["card_amount"], body["voucher_amount"], body["vat"]) == (
        money(0), money(0), money(183))
    credit = body["store_credit_voucher"]
    assert credit["recipient_email"] == "buyer@example.com"
    assert stripe_refunds(use_localstripe, order["intent"]) == []  # nothing went to the card

    voucher = db_session.get(Voucher, credit["id"])
    assert (voucher.kind, voucher.balance_amount, voucher.order_id) == ("money", 1100, None)
    assert voucher.source == "store_credit"
    delivered = customer_email(db_session, f"voucher-delivery:{voucher.id}")
    text = sealing.content_of(delivered).text
    assert "Here is your GLOW Clinic store credit: a gift voucher of £11.00" in text
    code = codes.normalise(text.split("Your voucher code: ")[1].split()[0])
    assert codes.last4(code) == credit["code_last4"] and code not in str(body)
    assert client.get(f"/api/v1/vouchers/{code}").json["balance"] == money(1100)
    told = customer_email(db_session, f"order-refund:{body['id']}")
    assert "£11.00 comes as store credit" in told.text and "back to the card" not in told.text

    detail = client.get(f"/api/v1/admin/orders/{order['id']}", headers=admin.headers).json
    assert detail["refunded"] == money(1100) and detail["refundable"] == money(1100)
    assert detail["lines"][0]["refunded_quantity"] == 1
    assert detail["refunds"][0]["store_credit_voucher"]["id"] == voucher.id
    assert _on_hand(db_session, order) == on_hand + 1
    after = client.get(f"{REPORT}?from={utcnow().date()}&to={utcnow().date()}",
                       headers=admin.headers).json
    assert after["refunds"]["amount"] - before["refunds"]["amount"] == 1100
    assert after["refunds_vat"]["amount"] - before["refunds_vat"]["amount"] == 183
    too_much = refund(client, admin, order["id"], method="store_credit", amount=money(1101))
    assert too_much.status_code == 409 and too_much.json["refundable"] == 1100
    rest = refund(client, admin, order["id"], amount=money(1100))  # the rest to the card
    assert rest.status_code == 201 and rest.json["card_amount"] == money(1100)


def test_store_credit_is_the_remedy_when_the_bank_sends_a_card_refund_back(
        client, admin, db_session, use_localstripe):
    order = paid_card_order(client, db_session, use_localstripe, card=CARD_REFUND_FAILS)
    both = [{"line_id": order["line_id"], "quantity": 2}]
    assert refund(client, admin, order["id"], lines=both).status_code == 201
    bank_sends_refund_back(client, use_localstripe, _stripe_refund_id(client, admin, order),
                           "whsec_test_secret")
    again = refund(client, admin, order["id"], lines=both, method="store_credit",
                   reason="the card account is closed; agreed on the phone")
    assert again.status_code == 201, again.json
    assert again.json["store_credit_amount"] == money(2200)
    assert again.json["vat"] == money(367)  # all the VAT the failed refund did not take back
    detail = client.get(f"/api/v1/admin/orders/{order['id']}", headers=admin.headers).json
    assert detail["refundable"] == money(0) and detail["lines"][0]["refunded_quantity"] == 2
    statuses = [note["status"] for note in detail["refunds"]]
    assert statuses == ["card_refund_failed", "refunded"]
    assert (detail["needs_attention"], detail["attention_reason"]) == (True, "refund_failed")

    resolve = f"/api/v1/admin/orders/{order['id']}/resolve"
    done = client.post(resolve, json={"note": "store credit sent, agreed by phone"},
                       headers=admin.headers)
    assert done.status_code == 200, done.json
    assert (done.json["needs_attention"], done.json["attention_reason"]) == (False, None)
    [event] = [e for e in done.json["events"] if e["type"] == "attention_resolved"]
    assert event["data"]["reason"] == "refund_failed"
    assert event["data"]["note"] == "store credit sent, agreed by phone"
    entry = db_session.scalars(select(AuditEntry).where(
        AuditEntry.action == "order.resolve_attention")).one()
    assert entry.before["attention_reason"] == "refund_failed"
    again = client.post(resolve, json={"note": "twice"}, headers=admin.headers)
    assert again.status_code == 409 and again.json["code"] == "nothing_to_resolve"
    assert client.post(resolve, json={"note": ""}, headers=admin.headers).status_code == 422


def _stripe_refund_id(client, admin, order: dict) -> str:
    detail = client.get(f"/api/v1/admin/orders/{order['id']}", headers=admin.headers).json
    return detail["payments"][0]["refunds"][0]["stripe_refund_id"]


def _on_hand(db_session, order: dict) -> int:
    level = db_session.get(StockLevel, order["variant"].id)
    db_session.refresh(level)
    return level.on_hand


def test_refund_in_full_then_cancel(client, admin, staff, db_session, use_localstripe):
    order = paid_card_order(client, db_session, use_localstripe)
    url = f"/api/v1/admin/orders/{order['id']}"
    assert client.post(f"{url}/cancel", json={}, headers=staff.headers).status_code == 409
    assert refund(client, admin, order["id"], amount=money(2200)).status_code == 201
    cancelled = client.post(f"{url}/cancel", json={"reason": "refunded"}, headers=staff.headers)
    assert cancelled.status_code == 200 and cancelled.json["status"] == "cancelled"
    told = customer_email(db_session, f"order-cancelled:{order['id']}")
    assert "cancelled by the clinic" in told.text and "refund was sent" in told.text
    assert client.post(f"{url}/fulfil", json={"collected": True},
                       headers=staff.headers).status_code == 409


def test_a_retried_refund_request_refunds_once(client, admin, db_session, use_localstripe):
    order = paid_card_order(client, db_session, use_localstripe)
    key = {"Idempotency-Key": "refund-ticket-881"}
    first = refund(client, admin, order["id"], headers=key, amount=money(500))
    second = refund(client, admin, order["id"], headers=key, amount=money(500))
    assert first.status_code == second.status_code == 201
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert len(stripe_refunds(use_localstripe, order["intent"])) == 1
    assert db_session.scalar(select(func.count()).select_from(OrderRefund)
                             .where(OrderRefund.order_id == order["id"])) == 1


def test_stripe_down_refunds_nothing(client, admin, db_session, use_localstripe, app,
                                     monkeypatch):
    order = paid_card_order(client, db_session, use_localstripe)
    monkeypatch.setitem(app.config, "STRIPE_API_BASE", "http://127.0.0.1:9")
    response = refund(client, admin, order["id"], amount=money(500))
    assert response.status_code == 503
    assert db_session.scalar(select(func.count()).select_from(OrderRefund)) == 0
    assert db_session.scalar(select(func.count()).select_from(AuditEntry)
                             .where(AuditEntry.action == "order.refund")) == 0


def test_an_unpaid_order_has_nothing_to_refund(client, admin, db_session):
    order = place_order(db_session, [(make_variant(db_session), 1)])
    response = refund(client, admin, order.id, amount=money(100))
    assert response.status_code == 409 and response.json["code"] == "order_not_paid"


def test_refund_requests_are_validated(client, admin, db_session):
    order = place_order(db_session, [(make_variant(db_session), 1)])
    for body, field in [
        ({}, "lines"),
        ({"amount": money(100), "lines": [{"line_id": 1, "quantity": 1}]}, "lines"),
        ({"amount": money(100), "restock": True}, "restock"),
        ({"amount": money(0)}, "amount"),
        ({"lines": [{"line_id": 1, "quantity": 0}]}, "lines"),
        ({"amount": money(100), "reason": ""}, "reason"),
    ]:
        response = refund(client, admin, order.id, **body)
        assert response.status_code == 422, (body, response.json)
        assert field in response.json["errors"], (body, response.json)


def voucher_paid_order(client, db_session, localstripe,
                       card: str | None = None) -> tuple[dict, object]:
    """2200 of goods: a 1000 gift voucher, the card the other 1200."""
    issued = voucher_services.issue(session=db_session, kind="money",
                                    value=Money(1000, GBP))
    variant = make_variant(db_session, price=1100, stock=10)
    cart_id = client.post("/api/v1/carts").json["id"]
    client.post(f"/api/v1/carts/{cart_id}/items", json={"sku": variant.sku, "quantity": 2})
    applied = client.post(f"/api/v1/carts/{cart_id}/vouchers", json={"code": issued.code})
    assert applied.status_code == 200, applied.json
    body = client.post(f"/api/v1/carts/{cart_id}/checkout", json={
        "email": "buyer@example.com", "shipping_method": "click-and-collect"}).json
    assert body["order"]["totals"]["amount_due"] == money(1200)
    localstripe.pay(body["payment"]["client_secret"], **({"card": card} if card else {}))
    client.post(f"/api/v1/orders/{body['order']['id']}/sync"
                f"?access_token={body['access_token']}")
    return body, issued


def test_gift_vouchers_are_credited_back_first_then_the_card(
        client, admin, db_session, use_localstripe):
    """The voucher part goes through orders.on_refund, where the vouchers domain credits it."""
    body, issued = voucher_paid_order(client, db_session, use_localstripe)
    order_id = body["order"]["id"]
    first = refund(client, admin, order_id, amount=money(1500))
    assert first.status_code == 201, first.json
    assert first.json["voucher_amount"] == money(1000)
    assert first.json["card_amount"] == money(500)
    email = customer_email(db_session, f"order-refund:{first.json['id']}")
    assert "£10.00 goes back onto the gift voucher" in email.text
    assert "£5.00 goes back to the card" in email.text
    voucher = db_session.get(Voucher, issued.voucher.id)
    db_session.refresh(voucher)
    assert voucher.balance_amount == 1000
    intent = body["payment"]["payment_intent_id"]
    assert [r["amount"] for r in stripe_refunds(use_localstripe, intent)] == [500]
    rest = refund(client, admin, order_id, amount=money(700))
    assert rest.status_code == 201 and rest.json["card_amount"] == money(700)
    # refunded in full: the two credit notes take back all 3.67 of the order's VAT
    assert (first.json["vat"], rest.json["vat"]) == (money(250), money(117))
    assert refund(client, admin, order_id, amount=money(1)).status_code == 409
    detail = client.get(f"/api/v1/admin/orders/{order_id}", headers=admin.headers).json
    assert "refund_credit" in [entry["kind"] for entry in detail["vouchers"]]
    assert detail["refundable"] == money(0) and detail["refunded"] == money(2200)


def pending_card_order(client, db_session, quantity=2) -> tuple[dict, object]:
    variant = make_variant(db_session, price=1100, stock=10)
    cart_id = client.post("/api/v1/carts").json["id"]
    client.post(f"/api/v1/carts/{cart_id}/items", json={"sku": variant.sku, "quantity": quantity})
    body = client.post(f"/api/v1/carts/{cart_id}/checkout", json={
        "email": "buyer@example.com", "shipping_method": "click-and-collect"}).json
    return body, variant


def test_cancelling_an_unpaid_order_cancels_its_payment_intent(
        client, staff, db_session, use_localstripe):
    body, variant = pending_card_order(client, db_session)
    response = client.post(f"/api/v1/admin/orders/{body['order']['id']}/cancel", json={},
                           headers=staff.headers)
    assert response.status_code == 200, response.json
    assert response.json["status"] == "cancelled"
    intent = use_localstripe.client.v1.payment_intents.retrieve(
        body["payment"]["payment_intent_id"])
    assert intent.status == "canceled"
    level = db_session.get(StockLevel, variant.id)
    db_session.refresh(level)
    assert level.reserved == 0
    told = customer_email(db_session, f"order-cancelled:{body['order']['id']}")
    assert told.to == "buyer@example.com" and "Nothing was charged" in told.text


def test_cancelling_an_order_the_customer_just_paid_settles_it_instead(
        client, staff, db_session, use_localstripe):
    body, _ = pending_card_order(client, db_session)
    use_localstripe.pay(body["payment"]["client_secret"])  # no webhook, no sync yet
    response = client.post(f"/api/v1/admin/orders/{body['order']['id']}/cancel", json={},
                           headers=staff.headers)
    assert response.status_code == 409 and response.json["code"] == "order_paid_meanwhile"
    detail = client.get(f"/api/v1/admin/orders/{body['order']['id']}",
                        headers=staff.headers).json
    assert detail["status"] == "paid"
    assert customer_email(db_session, f"order-cancelled:{body['order']['id']}") is None


def test_no_voucher_listener_means_no_voucher_refund(client, admin, db_session, use_localstripe,
                                                   monkeypatch):
    body, _ = voucher_paid_order(client, db_session, use_localstripe)
    monkeypatch.setattr(orders_services, "on_refund", [])
    response = refund(client, admin, body["order"]["id"], amount=money(300))
    assert response.status_code == 409 and response.json["code"] == "voucher_credit_unavailable"
    assert stripe_refunds(use_localstripe, body["payment"]["payment_intent_id"]) == []
