"""CartSchema dumps through `cart_document`, written out by hand for speed: it must give
exactly what marshmallow's own walk over the schema's fields gives, for every kind of cart."""

from __future__ import annotations

import secrets

import marshmallow as ma
import pytest

from shop.carts import services as carts
from shop.carts.schemas import CartSchema
from shop.inventory import services as inventory
from shop.promotions import services as promotions
from shop.promotions.models import Promotion
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


def with_promotion(session, *, min_subtotal: int = 0):
    """A promotion code applied; with a minimum spend the cart does not reach, it applies
    but takes nothing off."""
    cart = products(session)
    code = f"T{secrets.token_hex(4).upper()}"
    session.add(Promotion(code=code, description="Launch offer", percent_off=15,
                          currency="GBP", min_subtotal_amount=min_subtotal))
    session.flush()
    promotions.apply_code(session=session, cart_id=cart.id, user=None, code=code)
    return cart


def with_promotion_not_reached(session):
    return with_promotion(session, min_subtotal=1_000_000)


CARTS = {
    "products": products,
    "line problems": with_problems,
    "vouchers to buy": with_vouchers_to_buy,
    "vouchers applied": with_vouchers_applied,
    "empty": empty,
    "promotion": with_promotion,
    "promotion not reached": with_promotion_not_reached,
}


@pytest.mark.parametrize("shipping", [None, "uk-standard", "click-and-collect"])
@pytest.mark.parametrize("make", CARTS.values(), ids=CARTS.keys())
def test_the_hand_written_dump_matches_the_schema(db_session, make, shipping):
    view = carts.view(make(db_session), shipping)
    assert CartSchema().dump(view) == generic_dump(view)


def test_a_promotion_is_dumped_as_the_schema_does(db_session):
    view = carts.view(with_promotion(db_session), "uk-standard")
    dumped = CartSchema().dump(view)
    assert dumped["discounts"][0]["amount"] == {"amount": 689, "currency": "GBP"}  # 15% of 45.99
    assert dumped["promotion"]["applies"] is True
    not_reached = CartSchema().dump(carts.view(with_promotion_not_reached(db_session)))
    assert not_reached["promotion"]["reason"] == "minimum_not_reached"
    assert not_reached["discounts"] == []


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
