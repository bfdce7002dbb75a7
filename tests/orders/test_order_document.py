"""OrderSchema dumps through `order_document`, written out by hand for speed: it must give
exactly what marshmallow's own walk over the schema's fields gives, for every kind of order."""

from __future__ import annotations

import marshmallow as ma
import pytest

from shop.admin.models import OrderRefund, OrderRefundLine
from shop.orders import services as orders
from shop.orders.schemas import OrderPageSchema, OrderSchema
from shop.payments.models import Payment, Refund
from tests.carts.factories import make_variant, place_order


def generic_dump(order, *, many: bool = False):
    """What marshmallow makes of OrderSchema's fields, without the hand-written dump."""
    return ma.Schema.dump(OrderSchema(), order, many=many)


def pending(session, **kwargs):
    variants = [(make_variant(session, price=1800), 2), (make_variant(session, price=999), 1)]
    return place_order(session, variants, **kwargs).order


def paid(session, **kwargs):
    order = pending(session, **kwargs)
    return orders.mark_paid(session=session, order_id=order.id,
                            amount_received=order.amount_due, reference="pi_document").order


def cancelled(session):
    order = pending(session)
    return orders.cancel_unpaid(session=session, order_id=order.id, reason="customer_cancelled")


def with_vouchers_bought(session):
    """A paid order with a product, a treatment voucher and a money voucher (0% VAT): its
    `vouchers` list holds the issued codes."""
    from shop.carts import services as carts
    from shop.checkout import services as placing

    cart, _ = carts.create_cart(session=session, user=None)
    carts.add_item(session=session, cart_id=cart.id, user=None,
                   sku=make_variant(session, price=2500).sku, quantity=1)
    for sku, name in (("GLW-GV-HYDRA-FACIAL", "Ada"), ("GLW-GV-50", "Bob")):
        carts.add_item(session=session, cart_id=cart.id, user=None, sku=sku, quantity=1,
                       voucher={"recipient_name": name,
                                "recipient_email": f"{name.lower()}@example.com"})
    order = placing.place_order(session=session, cart_id=cart.id, user=None,
                                email="buyer@example.com",
                                shipping_method="click-and-collect").order
    return orders.mark_paid(session=session, order_id=order.id,
                            amount_received=order.amount_due, reference="pi_vouchers").order


def with_a_partial_address(session):
    """An address stored before some optional keys existed: the dump leaves them out."""
    order = pending(session)
    order.shipping_address = {"name": "Ada Lovelace", "line1": "1 Harley Street",
                              "city": "London", "postcode": "W1G 9QD", "extra": "not shown"}
    session.flush()
    return order


def refunded(session):
    """A paid order refunded by staff twice: a unit, whose card refund the bank sent back,
    then an amount. The rows as the refund code writes them (the receipt tests make them
    through the API, on localstripe)."""
    order = paid(session)
    payment = Payment(order_id=order.id, status="succeeded", amount=order.amount_due,
                      currency="GBP", payment_intent_id=f"pi_document_{order.id}")
    session.add(payment)
    session.flush()
    line = order.lines[0]
    for number, (amount, status, lines) in enumerate(
            [(line.unit_price_amount, "failed", [line]), (500, "succeeded", [])], 1):
        card = Refund(order_id=order.id, payment_id=payment.id, amount=amount, status=status,
                      stripe_refund_id=f"re_document_{order.id}_{number}",
                      idempotency_key=f"order-{order.id}-staff-refund-{number}")
        session.add(card)
        session.flush()
        session.add(OrderRefund(
            order_id=order.id, amount=amount, card_amount=amount, voucher_amount=0,
            currency="GBP", reason="returned", payment_refund_id=card.id,
            lines=[OrderRefundLine(order_line_id=each.id, quantity=1, amount=amount)
                   for each in lines]))
        orders.add_event(order, "staff_refund")
    session.flush()
    return order


def dispatched(session):
    """Paid, then dispatched by staff with a carrier whose tracking page is known."""
    from shop.admin.orders import services as staff_orders
    from tests.fixtures.auth import make_user

    order = paid(session)
    staff_orders.fulfil_order(session=session, actor=make_user(session, role="staff"),
                              order_id=order.id, carrier="Royal Mail",
                              tracking_number="RM 123/456GB")
    return order


def collected(session):
    from shop.admin.orders import services as staff_orders
    from tests.fixtures.auth import make_user

    order = paid(session, shipping_method="click-and-collect")
    staff_orders.fulfil_order(session=session, actor=make_user(session, role="staff"),
                              order_id=order.id, collected=True)
    return order


ORDERS = {
    "pending, delivered": pending,
    "pending, click and collect": lambda s: pending(s, shipping_method="click-and-collect"),
    "paid": paid,
    "cancelled": cancelled,
    "vouchers bought": with_vouchers_bought,
    "partial address": with_a_partial_address,
    "refunded": refunded,
    "dispatched": dispatched,
    "collected": collected,
}


@pytest.mark.parametrize("make", ORDERS.values(), ids=ORDERS.keys())
def test_the_hand_written_dump_matches_the_schema(db_session, make):
    order = make(db_session)
    assert OrderSchema().dump(order) == generic_dump(order)


def test_the_orders_cover_what_the_dump_must_handle(db_session):
    bought = OrderSchema().dump(with_vouchers_bought(db_session))
    assert {voucher["kind"] for voucher in bought["vouchers"]} == {"treatment", "money"}
    assert {row["rate"] for row in bought["vat"]} == {20, 0}
    assert bought["shipping"] == {
        "method": "click-and-collect", "name": "Click and collect at the clinic",
        "price": {"amount": 0, "currency": "GBP"}, "address": None}
    address = OrderSchema().dump(with_a_partial_address(db_session))["shipping"]["address"]
    assert "extra" not in address and "line2" not in address
    assert OrderSchema().dump(cancelled(db_session))["cancel_reason"] == "customer_cancelled"
    order = refunded(db_session)
    failed, amount = OrderSchema().dump(order)["refunds"]
    line = order.lines[0]
    assert (failed["credit_note"], failed["status"], failed["vat"]["amount"]) == \
        (f"{order.number}-R1", "card_refund_failed", 0)
    assert failed["lines"] == [{"line_id": line.id, "sku": line.sku, "name": line.name,
                                "quantity": 1, "amount": failed["amount"]}]
    assert (amount["credit_note"], amount["status"], amount["lines"]) == \
        (f"{order.number}-R2", "refunded", [])
    assert amount["vat"]["amount"] > 0 and OrderSchema().dump(paid(db_session))["refunds"] == []


def test_the_customer_sees_how_the_order_left(db_session):
    assert OrderSchema().dump(paid(db_session))["fulfilment"] is None
    shipped = OrderSchema().dump(dispatched(db_session))["fulfilment"]
    assert {key: shipped[key] for key in ("collection", "carrier", "tracking_number")} == {
        "collection": False, "carrier": "Royal Mail", "tracking_number": "RM 123/456GB"}
    assert shipped["tracking_url"] == (
        "https://www.royalmail.com/track-your-item#/tracking-results/RM%20123%2F456GB")
    ready = OrderSchema().dump(collected(db_session))["fulfilment"]
    assert ready["collection"] is True and ready["tracking_url"] is None
    assert ready["at"].endswith("+00:00")


def test_lists_and_pages_dump_the_same(db_session):
    many = [make(db_session) for make in ORDERS.values()]
    assert OrderSchema(many=True).dump(many) == generic_dump(many, many=True)
    assert OrderSchema().dump(many, many=True) == generic_dump(many, many=True)
    page = OrderPageSchema().dump({"items": many, "page": 1, "per_page": 24, "total": len(many)})
    assert page["items"] == generic_dump(many, many=True)


def test_only_and_exclude_still_work(db_session):
    order = paid(db_session)
    assert OrderSchema(only=("id", "status")).dump(order) == {"id": order.id, "status": "paid"}
    assert "events" not in OrderSchema(exclude=("events",)).dump(order)
