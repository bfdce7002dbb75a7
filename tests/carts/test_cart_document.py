"""CartSchema dumps through `cart_document`, written out by hand for speed: it must give
exactly what marshmallow's own walk over the schema's fields gives, for every kind of cart."""

from __future__ import annotations

import dataclasses

import marshmallow as ma
import pytest

from shop.carts import services as carts
from shop.carts.pricing import Discount
from shop.carts.schemas import CartSchema
from shop.inventory import services as inventory
from shop.money import Money
from shop.vouchers import checkout as vouchers
from tests.carts.factories import make_cart, make_variant
from tests.vouchers.conftest import issue_money


def generic_dump(view, *, many: bool = False):
    """What marshmallow makes of CartSchema's fields, without the hand-written dump."""
    return ma.Schema.dump(CartSchema(), view, many=many)


def products(session):
    return make_cart(session, [(make_variant(session, price=1800), 2),
                               (make_variant(session, price=999, stock=40), 1)])


def with_problems(session):
    """One line short of stock, one out of stock, one whose product left the shop."""
    short, gone, withdrawn = (make_variant(session, stock=5) for _ in range(3))
    cart = make_cart(session, [(short, 4), (gone, 1), (withdrawn, 1)])
    inventory.record_movement(session=session, variant_id=short.id, quantity=-3,
                              reason="damaged")
    inventory.record_movement(session=session, variant_id=gone.id, quantity=-5,
                              reason="damaged")
    withdrawn.product.status = "draft"
    session.flush()
    return cart


def with_vouchers_to_buy(session):
    """A treatment voucher and a money voucher (0% VAT): nothing to ship."""
    cart, _ = carts.create_cart(session=session, user=None)
    for sku, name in (("GLW-GV-HYDRA-FACIAL", "Ada"), ("GLW-GV-50", "Bob")):
        carts.add_item(session=session, cart_id=cart.id, user=None, sku=sku, quantity=1,
                       voucher={"recipient_name": name,
                                "recipient_email": f"{name.lower()}@example.com"})
    return cart


def with_vouchers_applied(session):
    """Two money vouchers applied, the second then frozen: one usable, one not."""
    cart = products(session)
    issued = [issue_money(session, amount=1000), issue_money(session, amount=700)]
    for voucher in issued:
        vouchers.apply_code(session=session, cart_id=cart.id, user=None, code=voucher.code)
    issued[1].voucher.frozen = True
    session.flush()
    return cart


def empty(session):
    return carts.create_cart(session=session, user=None)[0]


CARTS = {
    "products": products,
    "line problems": with_problems,
    "vouchers to buy": with_vouchers_to_buy,
    "vouchers applied": with_vouchers_applied,
    "empty": empty,
}


@pytest.mark.parametrize("shipping", [None, "uk-standard", "click-and-collect"])
@pytest.mark.parametrize("make", CARTS.values(), ids=CARTS.keys())
def test_the_hand_written_dump_matches_the_schema(db_session, make, shipping):
    view = carts.view(make(db_session), shipping)
    assert CartSchema().dump(view) == generic_dump(view)


def test_a_discount_is_dumped_as_the_schema_does(db_session):
    """Nothing in the shop gives discounts yet; the field is documented and dumped alike."""
    view = carts.view(products(db_session), "uk-standard")
    discounted = dataclasses.replace(view.pricing, discounts=(
        Discount(code="WELCOME", description="Welcome offer", amount=Money(500, "GBP")),))
    view = dataclasses.replace(view, pricing=discounted)
    assert CartSchema().dump(view)["discounts"] == [{
        "code": "WELCOME", "description": "Welcome offer",
        "amount": {"amount": 500, "currency": "GBP"}}]
    assert CartSchema().dump(view) == generic_dump(view)


def test_the_carts_cover_what_the_dump_must_handle(db_session):
    problems = CartSchema().dump(carts.view(with_problems(db_session)))
    assert [item["problems"] for item in problems["items"]] == [
        ["insufficient_stock"], ["out_of_stock"], ["unavailable"]]
    assert not problems["purchasable"]
    applied = CartSchema().dump(carts.view(with_vouchers_applied(db_session)))
    assert [row["usable"] for row in applied["vouchers"]["applied"]] == [True, False]
    assert applied["vouchers"]["covered"]["amount"] == 1000
    bought = CartSchema().dump(carts.view(with_vouchers_to_buy(db_session), "uk-standard"))
    assert not bought["requires_shipping"] and bought["shipping"] is None
    assert {row["rate"] for row in bought["vat_breakdown"]} == {20, 0}


def test_lists_dump_the_same(db_session):
    views = [carts.view(make(db_session), "uk-standard") for make in CARTS.values()]
    assert CartSchema(many=True).dump(views) == generic_dump(views, many=True)
