"""Vouchers in the shop: bought as cart lines, spent as payment at checkout, issued when paid."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import event, select

from shop.carts import services as carts
from shop.checkout import services as placing
from shop.db import utcnow
from shop.errors import Conflict
from shop.extensions import db
from shop.money import Money
from shop.notifications.models import OutboxEmail
from shop.orders import services as orders
from shop.orders.models import Order
from shop.vouchers import checkout, codes, purchases, services
from shop.vouchers.models import Voucher, VoucherLineDetails
from tests.carts.factories import make_variant
from tests.fixtures.auth import bearer_for, make_user
from tests.vouchers.conftest import (
    assert_ledger_matches,
    issue_money,
    issue_treatment,
    place_order,
)

HYDRA = "GLW-GV-HYDRA-FACIAL"
FIFTY = "GLW-GV-50"
CUSTOM = "GLW-GV-CUSTOM"
GIFT = {"recipient_name": "Ada", "recipient_email": "ada@example.com", "message": "Enjoy!"}


def new_cart(client, headers=None) -> str:
    return client.post("/api/v1/carts", headers=headers or {}).json["id"]


def add(client, cart_id, sku, headers=None, **body):
    return client.post(f"/api/v1/carts/{cart_id}/items", headers=headers or {},
                       json={"sku": sku, "quantity": 1, **body})


def apply(client, cart_id, code, headers=None):
    return client.post(f"/api/v1/carts/{cart_id}/vouchers", json={"code": code},
                       headers=headers or {})


def checkout_cart(client, cart_id, **body):
    body = {"email": "buyer@example.com", "shipping_method": "click-and-collect", **body}
    return client.post(f"/api/v1/carts/{cart_id}/checkout", json=body)


def voucher_lines(cart: dict) -> list[dict]:
    return [item for item in cart["items"] if item["kind"] == "voucher"]


# --- buying vouchers -------------------------------------------------------------------------

def test_vouchers_are_cart_lines_without_shipping_or_stock(client, db_session):
    cart_id = new_cart(client)
    assert add(client, cart_id, HYDRA, voucher={**GIFT, "send_on": str(date.today())}).status_code \
        == 201
    assert add(client, cart_id, FIFTY, voucher=GIFT).status_code == 201
    response = add(client, cart_id, CUSTOM, amount={"amount": 7500, "currency": "GBP"})
    assert response.status_code == 201, response.json
    cart = response.json
    lines = voucher_lines(cart)
    assert [line["unit_price"]["amount"] for line in lines] == [17500, 5000, 7500]
    assert [line["vat"]["rate"] for line in lines] == [20, 0, 0]  # single- vs multi-purpose
    assert lines[0]["vat"]["amount"]["amount"] == 2917
    assert all(line["problems"] == [] for line in lines)
    assert cart["requires_shipping"] is False and cart["shipping"] is None
    assert cart["totals"]["total"]["amount"] == 17500 + 5000 + 7500
    assert cart["vouchers"]["amount_due"]["amount"] == 30000
    details = db_session.scalars(select(VoucherLineDetails).where(
        VoucherLineDetails.cart_item_id == lines[0]["id"])).one()
    assert (details.recipient_email, details.message, details.send_on) == (
        "ada@example.com", "Enjoy!", date.today())


def test_two_vouchers_of_one_kind_are_two_lines(client, db_session):
    cart_id = new_cart(client)
    add(client, cart_id, FIFTY, voucher={"recipient_name": "One"})
    cart = add(client, cart_id, FIFTY, voucher={"recipient_name": "Two"}).json
    assert [line["quantity"] for line in voucher_lines(cart)] == [1, 1]


@pytest.mark.parametrize(("sku", "body", "field"), [
    (FIFTY, {"quantity": 2}, "quantity"),
    (CUSTOM, {}, "amount"),
    (CUSTOM, {"amount": {"amount": 999, "currency": "GBP"}}, "amount"),
    (CUSTOM, {"amount": {"amount": 50001, "currency": "GBP"}}, "amount"),
    (CUSTOM, {"amount": {"amount": 5000, "currency": "EUR"}}, "amount"),
    (FIFTY, {"amount": {"amount": 5000, "currency": "GBP"}}, "amount"),
    (FIFTY, {"voucher": {"send_on": str(date.today() - timedelta(days=1))}}, "voucher"),
    (FIFTY, {"voucher": {"recipient_email": "not-an-email"}}, "voucher"),
])
def test_voucher_lines_are_validated(client, db_session, sku, body, field):
    cart_id = new_cart(client)
    response = client.post(f"/api/v1/carts/{cart_id}/items", json={"sku": sku, "quantity": 1,
                                                                   **body})
    assert response.status_code == 422, response.json
    assert field in response.json["errors"]


def test_voucher_details_on_an_ordinary_product_are_refused(client, db_session):
    variant = make_variant(db_session, price=1000)
    cart_id = new_cart(client)
    response = add(client, cart_id, variant.sku, voucher=GIFT)
    assert response.status_code == 422


def test_a_voucher_line_stays_at_one(client, db_session):
    cart_id = new_cart(client)
    item = voucher_lines(add(client, cart_id, FIFTY).json)[0]
    response = client.patch(f"/api/v1/carts/{cart_id}/items/{item['id']}", json={"quantity": 3})
    assert response.status_code == 422


# --- paying with vouchers --------------------------------------------------------------------

def test_vouchers_stack_and_never_pay_for_vouchers(client, db_session):
    goods = make_variant(db_session, price=3000)
    small, big = issue_money(db_session, 2000), issue_money(db_session, 10000)
    cart_id = new_cart(client)
    add(client, cart_id, goods.sku)
    add(client, cart_id, FIFTY)
    assert apply(client, cart_id, codes.display(small.code).lower()).status_code == 200
    cart = apply(client, cart_id, big.code).json
    summary = cart["vouchers"]
    assert [row["code_last4"] for row in summary["applied"]] == [small.code[-4:], big.code[-4:]]
    goods_and_shipping = 3000 + cart["totals"]["shipping"]["amount"]
    assert [row["applies"]["amount"] for row in summary["applied"]] == [
        2000, goods_and_shipping - 2000]
    assert summary["covered"]["amount"] == goods_and_shipping  # the £50 voucher: by card
    assert summary["amount_due"]["amount"] == cart["totals"]["total"]["amount"] - goods_and_shipping
    assert small.code not in str(cart) and big.code not in str(cart)


@pytest.mark.parametrize("spoil", ["unknown", "expired", "void", "treatment", "spent"])
def test_one_message_for_every_unusable_code(client, db_session, spoil):
    staff = make_user(db_session, role="staff")
    issued = issue_treatment(db_session) if spoil == "treatment" else issue_money(db_session)
    if spoil == "expired":
        issued.voucher.expires_at = utcnow() - timedelta(seconds=1)
    elif spoil == "void":
        services.void(session=db_session, voucher=issued.voucher, reason="x", staff=staff)
    elif spoil == "spent":
        services.redeem_money(session=db_session, voucher=issued.voucher,
                              amount=issued.voucher.balance, note="", staff=staff)
    db_session.flush()
    code = codes.generate_code() if spoil == "unknown" else issued.code
    response = apply(client, new_cart(client), code)
    assert response.status_code == 422
    assert {k: response.json[k] for k in ("code", "detail", "errors")} == {
        "code": "voucher_not_usable", "detail": "This voucher code cannot be used.",
        "errors": {"code": ["This voucher code cannot be used."]}}


def test_remove_a_voucher_by_code_or_last_four(client, db_session):
    one, two = issue_money(db_session, 1000), issue_money(db_session, 1000)
    cart_id = new_cart(client)
    apply(client, cart_id, one.code)
    apply(client, cart_id, two.code)
    response = client.delete(f"/api/v1/carts/{cart_id}/vouchers", json={"code": one.code})
    assert response.status_code == 200, response.json
    assert [r["code_last4"] for r in response.json["vouchers"]["applied"]] == [two.code[-4:]]
    response = client.delete(f"/api/v1/carts/{cart_id}/vouchers/{two.code[-4:].lower()}")
    assert response.json["vouchers"]["applied"] == []
    again = client.delete(f"/api/v1/carts/{cart_id}/vouchers/{two.code[-4:]}")
    assert again.status_code == 404 and again.json["code"] == "voucher_not_applied"


def test_a_fully_covered_order_is_paid_without_stripe(client, db_session):
    goods = make_variant(db_session, price=3000, stock=3)
    issued = issue_money(db_session, 5000)
    cart_id = new_cart(client)
    add(client, cart_id, goods.sku)
    apply(client, cart_id, issued.code)
    response = checkout_cart(client, cart_id)  # no Stripe configured: a call would fail
    assert response.status_code == 201, response.json
    assert response.json["payment"] is None
    order = response.json["order"]
    assert order["status"] == "paid" and order["totals"]["amount_due"]["amount"] == 0
    voucher = assert_ledger_matches(db_session, issued.voucher.id)
    assert (voucher.balance_amount, voucher.held_amount) == (2000, 0)
    assert [t.kind for t in voucher.transactions] == ["issue", "hold", "debit"]
    assert {t.order_id for t in voucher.transactions[1:]} == {order["id"]}


@pytest.fixture
def statements(app):
    """The SQL of every statement run while the test runs."""
    seen: list[str] = []

    def record(_conn, _cursor, statement, *_args) -> None:
        seen.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    yield seen
    event.remove(engine, "before_cursor_execute", record)


def reads_applied_vouchers(statement: str) -> bool:
    return "FROM vouchers JOIN cart_vouchers" in " ".join(statement.split())


@pytest.mark.parametrize("with_voucher", [False, True])
def test_checkout_asks_for_applied_vouchers_only_when_the_cart_has_some(
        db_session, statements, with_voucher):
    """The statement that reads the cart's items tells whether any voucher is applied."""
    goods = make_variant(db_session, price=4000, stock=3)
    issued = issue_money(db_session, 1000)
    cart, _ = carts.create_cart(session=db_session, user=None)
    carts.add_item(session=db_session, cart_id=cart.id, user=None, sku=goods.sku, quantity=1)
    if with_voucher:
        checkout.apply_code(session=db_session, cart_id=cart.id, user=None, code=issued.code)
    statements.clear()
    order = placing.place_order(session=db_session, cart_id=cart.id, user=None,
                                email="b@example.com", shipping_method="click-and-collect").order
    assert sum(map(reads_applied_vouchers, statements)) == (1 if with_voucher else 0)
    assert order.amount_due == order.total_amount - (1000 if with_voucher else 0)


@pytest.mark.parametrize("with_voucher", [False, True])
def test_an_empty_cart_tells_whether_it_has_vouchers_too(client, db_session, statements,
                                                          with_voucher):
    goods = make_variant(db_session, price=4000, stock=3)
    issued = issue_money(db_session, 1000)
    cart_id = new_cart(client)
    if with_voucher:
        apply(client, cart_id, issued.code)
    statements.clear()
    cart = add(client, cart_id, goods.sku).json
    assert sum(map(reads_applied_vouchers, statements)) == (1 if with_voucher else 0)
    assert len(cart["vouchers"]["applied"]) == (1 if with_voucher else 0)


def test_holds_lower_the_amount_due_and_are_released_on_cancel(db_session):
    goods = make_variant(db_session, price=4000, stock=3)
    issued = issue_money(db_session, 2500)
    order = place_order(db_session, [(goods.sku, {})], applied=[issued.code])
    assert (order.total_amount, order.amount_due) == (4000, 1500)
    assert assert_ledger_matches(db_session, issued.voucher.id).held_amount == 2500
    orders.cancel_unpaid(session=db_session, order_id=order.id, reason="payment_failed")
    voucher = assert_ledger_matches(db_session, issued.voucher.id)
    assert (voucher.balance_amount, voucher.held_amount) == (2500, 0)
    assert voucher.transactions[-1].kind == "release"


def test_paid_order_captures_and_issues_exactly_once(db_session):
    goods = make_variant(db_session, price=4000, stock=3)
    issued = issue_money(db_session, 1000)
    order = place_order(db_session, [(goods.sku, {}), (HYDRA, {"voucher": GIFT}),
                                 (CUSTOM, {"amount": Money(6000, "GBP")})],
                    applied=[issued.code])
    assert order.amount_due == order.total_amount - 1000
    for _ in range(3):  # the webhook, the app's sync call and the worker all say "paid"
        orders.mark_paid(session=db_session, order_id=order.id, amount_received=order.amount_due,
                         reference="pi_test")
    checkout.on_paid(session=db_session, order=order)  # even a replayed hook issues nothing new
    bought = purchases.bought_by(session=db_session, order_id=order.id)
    assert [(v.kind, v.initial_amount) for v in bought] == [("treatment", 17500), ("money", 6000)]
    assert {v.source for v in bought} == {"purchase"}
    assert bought[0].treatment.slug == "hydra-facial" and bought[0].recipient_name == "Ada"
    assert bought[1].purchaser_email == "buyer@example.com"
    assert assert_ledger_matches(db_session, issued.voucher.id).balance_amount == 0
    emails = db_session.scalars(select(OutboxEmail).where(
        OutboxEmail.dedupe_key.like("voucher-delivery:%"))).all()
    assert sorted(e.to for e in emails if e.dedupe_key.endswith(
        tuple(f":{v.id}" for v in bought))) == ["ada@example.com", "buyer@example.com"]


def test_the_buyer_sees_the_codes_once_paid(client, db_session):
    customer = make_user(db_session)
    headers = bearer_for(db_session, customer)
    cart_id = new_cart(client, headers)
    add(client, cart_id, FIFTY, headers, voucher=GIFT)
    order_id = db_session.scalar(select(Order.id).where(Order.cart_id == cart_id))
    assert order_id is None
    order = placing.place_order(session=db_session, cart_id=cart_id, user=customer, email=None)
    body = client.get(f"/api/v1/orders/{order.order.id}", headers=headers).json
    assert body["vouchers"] == []
    orders.mark_paid(session=db_session, order_id=order.order.id,
                     amount_received=order.order.amount_due, reference="pi_x")
    [shown] = client.get(f"/api/v1/orders/{order.order.id}", headers=headers).json["vouchers"]
    voucher = db_session.get(Voucher, shown["id"])
    assert shown["code"] == services.code_for(voucher) and codes.is_well_formed(shown["code"])
    assert shown["kind"] == "money" and shown["value"] == {"amount": 5000, "currency": "GBP"}
    assert shown["recipient_email"] == "ada@example.com" and shown["status"] == "active"
    lookup = client.get(f"/api/v1/vouchers/{codes.display(shown['code'])}").json
    assert lookup["balance"] == {"amount": 5000, "currency": "GBP"}


def test_paid_after_the_holds_were_released_takes_the_share_again(db_session):
    goods = make_variant(db_session, price=4000, stock=3)
    issued = issue_money(db_session, 3000)
    order = place_order(db_session, [(goods.sku, {})], applied=[issued.code])
    orders.release_expired(session=db_session, order_id=order.id)
    assert assert_ledger_matches(db_session, issued.voucher.id).held_amount == 0
    orders.mark_paid(session=db_session, order_id=order.id, amount_received=1000,
                     reference="pi_late")
    voucher = assert_ledger_matches(db_session, issued.voucher.id)
    assert voucher.balance_amount == 0 and voucher.status == "redeemed"
    assert not db_session.get(Order, order.id).needs_attention


def test_paid_late_when_the_voucher_was_spent_meanwhile_is_flagged(db_session):
    staff = make_user(db_session, role="staff")
    goods = make_variant(db_session, price=4000, stock=3)
    issued = issue_money(db_session, 3000)
    order = place_order(db_session, [(goods.sku, {})], applied=[issued.code])
    orders.release_expired(session=db_session, order_id=order.id)
    services.redeem_money(session=db_session, voucher=issued.voucher,
                          amount=issued.voucher.balance, note="spent at the till", staff=staff)
    orders.mark_paid(session=db_session, order_id=order.id, amount_received=1000,
                     reference="pi_late")
    order = db_session.get(Order, order.id)
    assert order.needs_attention and order.attention_reason == "voucher_share_unavailable"
    assert assert_ledger_matches(db_session, issued.voucher.id).balance_amount == 0


def test_refunding_an_unused_voucher_purchase_voids_it_and_a_used_one_is_refused(db_session):
    staff = make_user(db_session, role="staff")
    order = place_order(db_session, [(FIFTY, {}), (FIFTY, {})])
    orders.mark_paid(session=db_session, order_id=order.id, amount_received=order.amount_due,
                     reference="pi_v")
    first, second = purchases.bought_by(session=db_session, order_id=order.id)
    services.redeem_money(session=db_session, voucher=second, amount=Money(100, "GBP"), note="",
                          staff=staff)
    with pytest.raises(Conflict) as raised:
        purchases.refund_purchases(session=db_session, order=order, staff=staff)
    assert raised.value.code == "voucher_already_used"
    assert db_session.get(Voucher, first.id).status == "active"  # nothing changed
    purchases.refund_purchases(session=db_session, order=order,
                               line_ids=[first.order_line_id], staff=staff)
    voided = assert_ledger_matches(db_session, first.id)
    assert voided.status == "void" and voided.transactions[-1].order_id == order.id


def test_a_disputed_payment_freezes_the_vouchers_it_bought(db_session):
    order = place_order(db_session, [(FIFTY, {})])
    orders.mark_paid(session=db_session, order_id=order.id, amount_received=order.amount_due,
                     reference="pi_d")
    checkout.on_dispute(session=db_session, order=order)
    [voucher] = purchases.bought_by(session=db_session, order_id=order.id)
    assert voucher.frozen
    assert "vouchers_frozen" in [e.type for e in db_session.get(Order, order.id).events]


def test_claiming_a_guest_cart_keeps_voucher_lines_and_codes(client, db_session):
    issued = issue_money(db_session, 1000)
    guest_cart = new_cart(client)
    add(client, guest_cart, FIFTY, voucher={"recipient_name": "Guest gift"})
    apply(client, guest_cart, issued.code)
    customer = make_user(db_session)
    headers = bearer_for(db_session, customer)
    own_cart = new_cart(client, headers)
    add(client, own_cart, FIFTY, headers, voucher={"recipient_name": "Own gift"})
    response = client.post(f"/api/v1/carts/{guest_cart}/claim", headers=headers)
    assert response.status_code == 200, response.json
    cart = response.json
    assert cart["id"] == own_cart and len(voucher_lines(cart)) == 2
    assert [r["code_last4"] for r in cart["vouchers"]["applied"]] == [issued.code[-4:]]
    names = set(db_session.scalars(select(VoucherLineDetails.recipient_name).where(
        VoucherLineDetails.cart_item_id.in_([line["id"] for line in voucher_lines(cart)]))))
    assert names == {"Guest gift", "Own gift"}


def test_a_voucher_used_up_since_it_was_applied_pays_nothing(client, db_session):
    goods = make_variant(db_session, price=3000, stock=3)
    issued = issue_money(db_session, 1000)
    cart_id = new_cart(client)
    add(client, cart_id, goods.sku)
    apply(client, cart_id, issued.code)
    services.redeem_money(session=db_session, voucher=issued.voucher, amount=Money(1000, "GBP"),
                          note="spent at the clinic", staff=make_user(db_session, role="staff"))
    cart = client.get(f"/api/v1/carts/{cart_id}").json
    assert cart["vouchers"]["applied"][0]["usable"] is False
    assert cart["vouchers"]["amount_due"] == cart["totals"]["total"]
    order = placing.place_order(session=db_session, cart_id=cart_id, user=None,
                                email="b@example.com", shipping_method="click-and-collect").order
    assert order.amount_due == order.total_amount


def test_the_vouchers_domain_listens_on_every_hook():
    from shop.payments import services as payments

    assert checkout.on_order_placed in placing.on_order_placed
    assert checkout.on_paid in orders.on_paid and checkout.on_cancel in orders.on_cancel
    assert checkout.on_refund in orders.on_refund
    assert checkout.on_dispute in payments.on_dispute
