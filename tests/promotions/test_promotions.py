"""Promotion codes: staff make them, a cart takes one, checkout takes one of its uses (never
more than max_redemptions, also at once on PostgreSQL), an unpaid order gives it back."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import select

from shop.audit.models import AuditEntry
from shop.checkout import services as checkout
from shop.db import utcnow
from shop.errors import Conflict
from shop.extensions import db
from shop.notifications.models import OutboxEmail
from shop.orders import services as orders
from shop.promotions import services as promotions
from shop.promotions.models import Promotion, PromotionRedemption
from tests.accounts.test_api import assert_problem
from tests.carts.factories import ADDRESS, make_cart, make_variant
from tests.fixtures.auth import bearer_for, make_user
from tests.payments.helpers import checkout as http_checkout

ADMIN_URL = "/api/v1/admin/promotions"


def gbp(amount: int) -> dict:
    return {"amount": amount, "currency": "GBP"}


@pytest.fixture
def admin(db_session):
    return bearer_for(db_session, make_user(db_session, role="admin"))


def create(client, admin, **fields):
    body = {"code": "GLOW10", "description": "10% off skincare", "percent_off": 10, **fields}
    if "amount_off" in fields:
        body.pop("percent_off")
    return client.post(ADMIN_URL, json=body, headers=admin)


def apply(client, cart_id: str, code: str = "GLOW10"):
    return client.put(f"/api/v1/carts/{cart_id}/promotion", json={"code": code})


def place(db_session, cart, email="guest@example.com"):
    return checkout.place_order(session=db_session, cart_id=cart.id, user=None, email=email,
                                shipping_method="uk-standard", shipping_address=ADDRESS)


def refused_checkout(client, cart) -> str:
    """The code a checkout over HTTP is refused with (the route rolls its work back)."""
    response = client.post(f"/api/v1/carts/{cart.id}/checkout", json={
        "email": "guest@example.com", "shipping_method": "click-and-collect"})
    assert response.status_code == 409, response.json
    return response.json["code"]


def promotion(db_session, code: str = "GLOW10") -> Promotion:
    db_session.expire_all()
    return db_session.scalar(select(Promotion).where(Promotion.code == code))


def test_a_percentage_comes_off_the_products_and_the_order_keeps_it(client, db_session, admin):
    assert create(client, admin).status_code == 201
    cart = make_cart(db_session, [(make_variant(db_session, price=3000), 2)])
    body = apply(client, cart.id, " glow10 ").json
    assert body["promotion"] == {"code": "GLOW10", "description": "10% off skincare",
                                 "applies": True, "reason": None}
    assert body["discounts"] == [{"code": "GLOW10", "description": "10% off skincare",
                                  "amount": gbp(600)}]
    totals = body["totals"]
    assert (totals["subtotal"], totals["discount"], totals["total"]) == \
        (gbp(6000), gbp(600), gbp(5400))
    assert totals["vat"] == gbp(900)  # a sixth of the 54.00 paid (free delivery from 40.00)
    placed = place(db_session, cart)
    assert (placed.order.discount_amount, placed.order.total_amount) == (600, 5400)
    assert placed.order.discount_code == "GLOW10"
    assert promotion(db_session).redemptions == 1
    redemption = db_session.scalar(select(PromotionRedemption))
    assert (redemption.order_id, redemption.amount, redemption.status) == \
        (placed.order.id, 600, "held")
    orders.mark_paid(session=db_session, order_id=placed.order.id, amount_received=5400,
                     reference="pi_test")
    db_session.refresh(redemption)
    assert redemption.status == "used"
    [confirmation] = db_session.scalars(select(OutboxEmail).where(
        OutboxEmail.dedupe_key == f"order-confirmation:{placed.order.id}")).all()
    assert "Discount (GLOW10): -£6.00" in confirmation.text


def test_the_payment_intent_is_for_the_discounted_amount(client, db_session, admin,
                                                         use_localstripe):
    assert create(client, admin, amount_off=gbp(500)).status_code == 201
    variant = make_variant(db_session, price=2000)
    cart_id = client.post("/api/v1/carts").json["id"]
    client.post(f"/api/v1/carts/{cart_id}/items", json={"sku": variant.sku, "quantity": 1})
    assert apply(client, cart_id).status_code == 200
    body = http_checkout(client, cart_id)
    assert body["order"]["totals"]["discount"] == gbp(500)
    assert body["order"]["discount_code"] == "GLOW10"
    assert body["payment"]["amount"] == gbp(1500)
    intent = use_localstripe.client.v1.payment_intents.retrieve(
        body["payment"]["payment_intent_id"])
    assert intent.amount == 1500


def test_a_minimum_spend_not_reached_takes_nothing_off_and_checkout_says_so(
    client, db_session, admin
):
    assert create(client, admin, amount_off=gbp(1000), min_subtotal=gbp(5000)).status_code == 201
    variant = make_variant(db_session, price=3000, stock=5)
    cart = make_cart(db_session, [(variant, 1)])
    body = apply(client, cart.id).json
    assert body["promotion"]["applies"] is False
    assert body["promotion"]["reason"] == "minimum_not_reached"
    assert body["discounts"] == [] and body["totals"]["discount"] == gbp(0)
    assert refused_checkout(client, cart) == "promotion_not_applicable"
    client.patch(f"/api/v1/carts/{cart.id}/items/{cart.items[0].id}", json={"quantity": 2})
    body = client.get(f"/api/v1/carts/{cart.id}").json
    assert body["promotion"]["applies"] is True and body["totals"]["discount"] == gbp(1000)


def test_a_window_beyond_the_calendar_in_utc_is_a_422(client, admin):
    """9999-12-31T23:59:59-12:00 is in year 10000 in UTC, which PostgreSQL's driver cannot
    send (a 500): instants are bounded where nothing done with them can overflow."""
    message = ["Must be between 1900-01-01 and 9999-01-01 (UTC)."]
    for name in ("starts_at", "ends_at"):
        refused = create(client, admin, **{name: "9999-12-31T23:59:59-12:00"})
        assert refused.status_code == 422, refused.text
        assert refused.json["errors"] == {name: message}
    assert create(client, admin, ends_at="9998-12-31T00:00:00-12:00").status_code == 201
    changed = client.patch(f"{ADMIN_URL}/GLOW10", headers=admin,
                           json={"starts_at": "0001-01-01T00:00:00+14:00"})
    assert changed.status_code == 422 and changed.json["errors"] == {"starts_at": message}


@pytest.mark.parametrize(("fields", "reason"), [
    ({"starts_at": (utcnow() + timedelta(days=1)).isoformat()}, "not_started"),
    ({"ends_at": (utcnow() - timedelta(seconds=1)).isoformat()}, "expired"),
])
def test_codes_outside_their_window_are_refused(client, db_session, admin, fields, reason):
    assert create(client, admin, **fields).status_code == 201
    cart = make_cart(db_session, [(make_variant(db_session), 1)])
    body = assert_problem(apply(client, cart.id), 422, "promotion_invalid")
    assert body["reason"] == reason and list(body["errors"]) == ["code"]


def test_unknown_and_disabled_codes_get_the_same_answer(client, db_session, admin):
    assert create(client, admin).status_code == 201
    assert client.patch(f"{ADMIN_URL}/glow10", json={"status": "disabled"},
                        headers=admin).status_code == 200
    cart = make_cart(db_session, [(make_variant(db_session), 1)])
    disabled = assert_problem(apply(client, cart.id), 422, "promotion_invalid")
    unknown = assert_problem(apply(client, cart.id, "NOPE"), 422, "promotion_invalid")
    assert disabled["detail"] == unknown["detail"]


def test_removing_the_code_removes_the_discount(client, db_session, admin):
    assert create(client, admin).status_code == 201
    cart = make_cart(db_session, [(make_variant(db_session, price=1000), 1)])
    assert apply(client, cart.id).json["totals"]["discount"] == gbp(100)
    body = client.delete(f"/api/v1/carts/{cart.id}/promotion").json
    assert body["promotion"] is None and body["totals"]["total"] == gbp(1000 + 395)
    assert client.delete(f"/api/v1/carts/{cart.id}/promotion").status_code == 200


def test_the_last_use_goes_to_one_order_and_comes_back_if_it_is_not_paid(
    client, db_session, admin
):
    assert create(client, admin, max_redemptions=1).status_code == 201
    variant = make_variant(db_session, stock=10)
    first, second = (make_cart(db_session, [(variant, 1)]) for _ in range(2))
    for cart in (first, second):
        assert apply(client, cart.id).status_code == 200
    placed = place(db_session, first)
    assert promotion(db_session).redemptions == 1
    late = make_cart(db_session, [(variant, 1)])
    body = assert_problem(apply(client, late.id), 422, "promotion_invalid")
    assert body["reason"] == "used_up"
    assert refused_checkout(client, second) == "promotion_not_applicable"
    orders.cancel_unpaid(session=db_session, order_id=placed.order.id, reason="test")
    orders.cancel_unpaid(session=db_session, order_id=placed.order.id, reason="test")
    assert promotion(db_session).redemptions == 0  # given back once
    assert db_session.scalar(select(PromotionRedemption.status)) == "released"
    assert place(db_session, second).order.discount_amount > 0


def test_staff_manage_codes_and_every_change_is_audited(client, db_session, admin):
    created = create(client, admin, code="summer-25", amount_off=gbp(2500),
                     min_subtotal=gbp(10000), max_redemptions=50)
    assert created.status_code == 201, created.json
    assert created.json | {"created_at": None} == {
        "code": "SUMMER-25", "description": "10% off skincare", "percent_off": None,
        "amount_off": gbp(2500), "min_subtotal": gbp(10000), "starts_at": None,
        "ends_at": None, "max_redemptions": 50, "once_per_customer": False, "redemptions": 0,
        "status": "active", "created_at": None}
    assert_problem(create(client, admin, code="SUMMER-25"), 409, "promotion_code_taken")
    changed = client.patch(f"{ADMIN_URL}/summer-25", headers=admin,
                           json={"description": "£25 off £100", "max_redemptions": 10})
    assert changed.json["description"] == "£25 off £100"
    listed = client.get(f"{ADMIN_URL}?status=active", headers=admin).json
    assert [item["code"] for item in listed["items"]] == ["SUMMER-25"]
    actions = db_session.scalars(select(AuditEntry.action).where(AuditEntry.entity == "promotion")
                                 .order_by(AuditEntry.id)).all()
    assert actions == ["promotion.create", "promotion.change"]
    assert_problem(client.get(f"{ADMIN_URL}/nope", headers=admin), 404, "promotion_not_found")


@pytest.mark.parametrize(("fields", "field"), [
    ({"amount_off": gbp(500), "percent_off": 10}, "percent_off"),
    ({"percent_off": 0}, "percent_off"),
    ({"percent_off": 101}, "percent_off"),
    ({"amount_off": gbp(0)}, "amount_off"),
    ({"amount_off": {"amount": 500, "currency": "EUR"}}, "amount_off"),
    ({"code": "a b"}, "code"),
    ({"ends_at": "2026-01-01T00:00:00+00:00", "starts_at": "2026-02-01T00:00:00+00:00"},
     "ends_at"),
])
def test_codes_are_validated(client, admin, fields, field):
    body = {"code": "X10", "description": "test", **fields}
    if "percent_off" not in fields and "amount_off" not in fields:
        body["percent_off"] = 10
    response = client.post(ADMIN_URL, json=body, headers=admin)
    assert response.status_code == 422, response.json
    assert field in response.json["errors"]


def test_the_limit_cannot_go_below_what_orders_hold(client, db_session, admin):
    assert create(client, admin, max_redemptions=5).status_code == 201
    for _ in range(2):
        cart = make_cart(db_session, [(make_variant(db_session), 1)])
        apply(client, cart.id)
        place(db_session, cart)
    assert_problem(client.patch(f"{ADMIN_URL}/GLOW10", json={"max_redemptions": 1},
                                headers=admin), 409, "max_below_redemptions")


def test_customers_and_staff_cannot_manage_codes(client, db_session):
    staff = bearer_for(db_session, make_user(db_session, role="staff"))
    customer = bearer_for(db_session, make_user(db_session))
    for headers in (staff, customer):
        assert client.get(ADMIN_URL, headers=headers).status_code == 403
    assert client.get(ADMIN_URL).status_code == 401


def race_checkouts(pooled_app, *, carts: int, emails: list[str], **promotion) -> list[str]:
    """Check out `carts` one-line carts carrying one code at once (committed, PostgreSQL);
    each outcome is "discounted" or the refusal's code. Returns them and the code's count."""
    race_app = pooled_app(carts + 2)
    with race_app.app_context():
        db.session.add(Promotion(code="RUSH", description="launch day", percent_off=20,
                                 currency="GBP", **promotion))
        variant = make_variant(db.session, stock=20)
        made = [make_cart(db.session, [(variant, 1)]) for _ in range(carts)]
        for cart in made:
            cart.promotion_id = db.session.scalar(select(Promotion.id))
        cart_ids = [cart.id for cart in made]
        db.session.commit()
        db.session.remove()

    def check_out(cart_and_email: tuple[str, str]) -> str:
        with race_app.app_context():
            try:
                placed = checkout.place_order(
                    session=db.session, cart_id=cart_and_email[0], user=None,
                    email=cart_and_email[1], shipping_method="click-and-collect")
                discount = placed.order.discount_amount
                db.session.commit()
                return "discounted" if discount else "full price"
            except Conflict as refused:
                db.session.rollback()
                return refused.code
            finally:
                db.session.remove()

    with ThreadPoolExecutor(max_workers=carts) as pool:
        outcomes = list(pool.map(check_out, zip(cart_ids, emails, strict=True)))
    with race_app.app_context():
        outcomes.append(db.session.scalar(select(Promotion.redemptions)))
        db.session.remove()
    return outcomes


@pytest.mark.postgresql_only
def test_checkouts_at_once_never_take_more_uses_than_the_code_has(pooled_app):
    *outcomes, redemptions = race_checkouts(
        pooled_app, carts=6, emails=[f"r{n}@example.com" for n in range(6)], max_redemptions=3)
    assert outcomes.count("discounted") == 3 and redemptions == 3
    assert set(outcomes) - {"discounted"} <= {"promotion_unavailable",
                                               "promotion_not_applicable"}


def test_a_once_per_customer_code_goes_once_to_each_account_whatever_the_email(
    client, db_session, admin, use_localstripe
):
    create(client, admin, code="WELCOME", once_per_customer=True)
    variant = make_variant(db_session, stock=10)
    customer = make_user(db_session)
    signed_in = bearer_for(db_session, customer)
    first = make_cart(db_session, [(variant, 1)], user=customer)
    promotions.apply_code(session=db_session, cart_id=first.id, user=customer, code="WELCOME")
    placed = checkout.place_order(session=db_session, cart_id=first.id, user=customer,
                                  email="me@example.com", shipping_method="uk-standard",
                                  shipping_address=ADDRESS).order
    second = make_cart(db_session, [(variant, 1)], user=customer)
    promotions.apply_code(session=db_session, cart_id=second.id, user=customer, code="WELCOME")

    def checkout_second():
        return client.post(f"/api/v1/carts/{second.id}/checkout", headers=signed_in, json={
            "email": "another.me@example.com", "shipping_method": "click-and-collect"})

    refused = checkout_second()
    assert_problem(refused, 409, "promotion_already_used")
    assert "this account" in refused.json["detail"]
    orders.cancel_unpaid(session=db_session, order_id=placed.id, reason="test")
    accepted = checkout_second()
    assert accepted.status_code == 201, accepted.json
    assert accepted.json["order"]["totals"]["discount"]["amount"] > 0


@pytest.mark.postgresql_only
def test_one_customers_checkouts_at_once_use_a_once_per_customer_code_once(pooled_app):
    *outcomes, redemptions = race_checkouts(
        pooled_app, carts=4, emails=["same@example.com"] * 4, once_per_customer=True)
    assert sorted(outcomes) == ["discounted"] + ["promotion_already_used"] * 3
    assert redemptions == 1  # the refused checkouts rolled their count back


def test_a_refunded_line_gives_back_what_was_paid_for_it_after_the_discount(
    client, db_session, admin, use_localstripe
):
    assert create(client, admin).status_code == 201
    variant = make_variant(db_session, price=3000)
    cart_id = client.post("/api/v1/carts").json["id"]
    client.post(f"/api/v1/carts/{cart_id}/items", json={"sku": variant.sku, "quantity": 2})
    apply(client, cart_id)
    body = http_checkout(client, cart_id)
    use_localstripe.pay(body["payment"]["client_secret"])
    client.post(f"/api/v1/orders/{body['order']['id']}/sync"
                f"?access_token={body['access_token']}")
    line_id = body["order"]["lines"][0]["id"]
    refunded = client.post(f"/api/v1/admin/orders/{body['order']['id']}/refunds", headers=admin,
                           json={"lines": [{"line_id": line_id, "quantity": 1}],
                                 "reason": "one too many"})
    assert refunded.status_code == 201, refunded.json
    assert refunded.json["amount"] == gbp(2700)  # 30.00 less its 10%


def test_refunding_every_line_gives_back_exactly_what_was_paid_for_the_products(
    client, db_session, admin, use_localstripe
):
    """15% off 10.00 + 10.01 is 3.00 (rounded down): 17.01 paid. Each line's part of the
    discount is the one checkout gave it, so the lines' refunds add up to 17.01, not 17.02."""
    assert create(client, admin, percent_off=15).status_code == 201
    cheaper, dearer = make_variant(db_session, price=1000), make_variant(db_session, price=1001)
    cart_id = client.post("/api/v1/carts").json["id"]
    for variant in (cheaper, dearer):
        client.post(f"/api/v1/carts/{cart_id}/items", json={"sku": variant.sku, "quantity": 1})
    apply(client, cart_id)
    body = http_checkout(client, cart_id)
    assert body["order"]["totals"]["total"] == gbp(1701)
    use_localstripe.pay(body["payment"]["client_secret"])
    client.post(f"/api/v1/orders/{body['order']['id']}/sync"
                f"?access_token={body['access_token']}")
    amounts = []
    for line in body["order"]["lines"]:
        refunded = client.post(
            f"/api/v1/admin/orders/{body['order']['id']}/refunds", headers=admin,
            json={"lines": [{"line_id": line["id"], "quantity": 1}], "reason": "returned"})
        assert refunded.status_code == 201, refunded.json
        amounts.append(refunded.json["amount"]["amount"])
    assert sum(amounts) == 1701


def test_an_order_paid_after_it_was_cancelled_takes_its_use_back_if_one_is_left(
    client, db_session, admin
):
    assert create(client, admin, max_redemptions=2).status_code == 201
    variant = make_variant(db_session, stock=10)
    first, second, third = (make_cart(db_session, [(variant, 1)]) for _ in range(3))
    for cart in (first, second, third):
        apply(client, cart.id)
    late = place(db_session, first).order
    orders.cancel_unpaid(session=db_session, order_id=late.id, reason="reservation_expired")
    assert promotion(db_session).redemptions == 0
    orders.mark_paid(session=db_session, order_id=late.id, amount_received=late.total_amount,
                     reference="pi_late")
    assert promotion(db_session).redemptions == 1
    place(db_session, second)
    assert promotion(db_session).redemptions == 2  # all used: a third would be refused
    assert refused_checkout(client, third) == "promotion_not_applicable"
    statuses = db_session.scalars(select(PromotionRedemption.status)
                                  .order_by(PromotionRedemption.id)).all()
    assert statuses == ["used", "held"]


def welcome_used_then_given_up(client, db_session, admin):
    """A once-per-customer code used by an order that was then cancelled unpaid (its use
    given back), and another cart of the same customer holding the code."""
    create(client, admin, code="WELCOME", once_per_customer=True)
    variant = make_variant(db_session, stock=10)
    first, second = (make_cart(db_session, [(variant, 1)]) for _ in range(2))
    for cart in (first, second):
        apply(client, cart.id, "WELCOME")
    late = place(db_session, first).order
    orders.cancel_unpaid(session=db_session, order_id=late.id, reason="reservation_expired")
    return late, second


def test_a_once_per_customer_use_paid_late_holds_the_customers_key_again(
    client, db_session, admin
):
    late, second = welcome_used_then_given_up(client, db_session, admin)
    orders.mark_paid(session=db_session, order_id=late.id, amount_received=late.total_amount,
                     reference="pi_late")
    db_session.commit()
    refused = client.post(f"/api/v1/carts/{second.id}/checkout", json={
        "email": "guest@example.com", "shipping_method": "click-and-collect"})
    assert_problem(refused, 409, "promotion_already_used")


def test_a_late_payment_after_the_customer_used_the_code_again_keeps_both_orders(
    db_session, admin, client
):
    late, second = welcome_used_then_given_up(client, db_session, admin)
    other = place(db_session, second).order  # the released use, taken by the same customer
    orders.mark_paid(session=db_session, order_id=late.id, amount_received=late.total_amount,
                     reference="pi_late")
    keys = dict(db_session.execute(select(PromotionRedemption.order_id,
                                          PromotionRedemption.once_key)).all())
    assert keys == {late.id: None, other.id: "guest@example.com"}
    db_session.refresh(late)
    assert late.status == "paid"


def test_a_once_per_customer_code_goes_once_to_each_address(client, db_session, admin):
    assert create(client, admin, code="WELCOME", once_per_customer=True).json[
        "once_per_customer"] is True
    variant = make_variant(db_session, stock=10)
    first, second, other = (make_cart(db_session, [(variant, 1)]) for _ in range(3))
    for cart in (first, second, other):
        assert apply(client, cart.id, "WELCOME").status_code == 200
    placed = place(db_session, first)  # guest@example.com
    response = client.post(f"/api/v1/carts/{second.id}/checkout", json={
        "email": "GUEST@example.com", "shipping_method": "click-and-collect"})
    assert_problem(response, 409, "promotion_already_used")
    assert place(db_session, other, "someone.else@example.com").order.discount_amount > 0
    orders.cancel_unpaid(session=db_session, order_id=placed.order.id, reason="test")
    assert place(db_session, second).order.discount_amount > 0  # the released use came back
