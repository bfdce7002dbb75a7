"""Random sequences of what customers, Stripe and staff do, against a model of the stock.

Hypothesis draws the sequences: carts filled and checked out, PaymentIntents paid on
localstripe, their `payment_intent.succeeded` events delivered (again and again, and after a
staff cancel), unpaid orders cancelled by staff, paid ones refunded a unit at a time (restocked
or not) and cancelled once refunded in full, stock received, damaged and corrected. A plain
model predicts every answer's status and each variant's on hand and reserved; after every step
the database must agree with the model and with itself: on hand is the ledger's sum, reserved
is the sum of live reservations, nothing is reserved beyond what is on hand, and each paid order
sold its lines once and queued one confirmation email.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import func, select

from shop.orders.models import StockReservation
from tests.carts.factories import ledger_sum, level, make_variant
from tests.fixtures.auth import bearer_for, make_user
from tests.payments.helpers import (
    confirmation_emails,
    post_event,
    reload_order,
    sales_of,
    stripe_event,
)

SECRET = "whsec_test_secret"  # app_config's STRIPE_WEBHOOK_SECRET
MAX_LINE = 10  # CART_LINE_MAX_QUANTITY's default
MACHINE = settings(max_examples=20, stateful_step_count=30, deadline=None, derandomize=True,
                   database=None, suppress_health_check=list(HealthCheck))


@dataclass
class Stock:
    sku: str
    variant_id: int
    on_hand: int
    reserved: int = 0

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved


@dataclass
class Cart:
    id: str
    lines: dict[int, int] = field(default_factory=dict)  # stock index → quantity
    open: bool = True


@dataclass
class Order:
    id: int
    lines: dict[int, int]  # stock index → quantity
    line_ids: dict[int, int]  # stock index → order line id
    client_secret: str
    intent_id: str
    status: str = "pending_payment"
    paid_in_stripe: bool = False
    sold: bool = False
    refunded: dict[int, int] = field(default_factory=dict)  # stock index → units

    def refundable(self) -> list[int]:
        return [index for index, quantity in self.lines.items()
                if self.refunded.get(index, 0) < quantity]


def test_stock_and_orders_follow_the_model(client, db_session, use_localstripe):
    admin = bearer_for(db_session, make_user(db_session, role="admin"))

    class Shop(RuleBasedStateMachine):
        carts = Bundle("carts")

        def __init__(self):
            super().__init__()
            self.stock = [self._stocked(price, on_hand)
                          for price, on_hand in ((1000, 4), (1250, 6), (1500, 8))]
            self.orders: list[Order] = []

        @staticmethod
        def _stocked(price: int, on_hand: int) -> Stock:
            variant = make_variant(db_session, price=price, stock=on_hand)
            return Stock(variant.sku, variant.id, on_hand)

        # customers
        @rule(target=carts, index=st.integers(0, 2), quantity=st.integers(1, 3))
        def new_cart(self, index, quantity):
            response = client.post("/api/v1/carts")
            assert response.status_code == 201, response.json
            cart = Cart(response.json["id"])
            self.add(cart, index, quantity)
            return cart

        @rule(cart=carts, index=st.integers(0, 2), quantity=st.integers(1, 3))
        def add(self, cart, index, quantity):
            stock = self.stock[index]
            response = client.post(f"/api/v1/carts/{cart.id}/items",
                                   json={"sku": stock.sku, "quantity": quantity})
            wanted = cart.lines.get(index, 0) + quantity
            if not cart.open:
                assert (response.status_code, response.json["code"]) == (409, "cart_not_open")
            elif wanted > MAX_LINE:
                assert response.status_code == 422, response.json
            elif wanted > stock.available:
                assert (response.status_code, response.json["code"]) == (
                    409, "insufficient_stock"), response.json
            else:
                assert response.status_code == 201, response.json
                cart.lines[index] = wanted

        @rule(cart=consumes(carts))
        def checkout(self, cart):
            response = client.post(f"/api/v1/carts/{cart.id}/checkout", json={
                "email": "model@example.com", "shipping_method": "click-and-collect"})
            short = any(quantity > self.stock[i].available for i, quantity in cart.lines.items())
            if not cart.lines or short:
                assert response.status_code == 409, response.json
                return
            assert response.status_code == 201, response.json
            cart.open = False
            for index, quantity in cart.lines.items():
                self.stock[index].reserved += quantity
            body, index_of = response.json, {stock.sku: n for n, stock in enumerate(self.stock)}
            line_ids = {index_of[line["sku"]]: line["id"] for line in body["order"]["lines"]}
            self.orders.append(Order(body["order"]["id"], dict(cart.lines), line_ids,
                                     body["payment"]["client_secret"],
                                     body["payment"]["payment_intent_id"]))

        # Stripe
        @precondition(lambda self: any(o.status == "pending_payment" and not o.paid_in_stripe
                                       for o in self.orders))
        @rule(data=st.data())
        def pay(self, data):
            order = data.draw(st.sampled_from(
                [o for o in self.orders if o.status == "pending_payment" and not o.paid_in_stripe]))
            intent = use_localstripe.pay(order.client_secret)
            assert intent["status"] == "succeeded"
            order.paid_in_stripe = True

        @precondition(lambda self: any(o.paid_in_stripe for o in self.orders))
        @rule(data=st.data())
        def deliver_succeeded(self, data):
            order = data.draw(st.sampled_from([o for o in self.orders if o.paid_in_stripe]))
            event = stripe_event(use_localstripe, "payment_intent.succeeded", order.intent_id)
            response = post_event(client, event, SECRET)
            assert response.status_code == 200, response.json
            self._settle_paid(order)

        # staff
        @precondition(lambda self: any(o.status != "cancelled" for o in self.orders))
        @rule(data=st.data())
        def cancel(self, data):
            order = data.draw(st.sampled_from([o for o in self.orders if o.status != "cancelled"]))
            response = client.post(f"/api/v1/admin/orders/{order.id}/cancel",
                                   json={"reason": "model"}, headers=admin)
            if order.status == "paid" and not order.refundable():  # refunded in full
                assert response.status_code == 200, response.json
                order.status = "cancelled"
            elif order.status != "pending_payment":
                assert response.status_code == 409, response.json
            elif order.paid_in_stripe:  # Stripe says paid: the order is settled, not cancelled
                assert (response.status_code, response.json["code"]) == (
                    409, "order_paid_meanwhile"), response.json
                self._settle_paid(order)
            else:
                assert response.status_code == 200, response.json
                order.status = "cancelled"
                for index, quantity in order.lines.items():
                    self.stock[index].reserved -= quantity

        @precondition(lambda self: any(o.status == "paid" and o.refundable()
                                       for o in self.orders))
        @rule(data=st.data(), restock=st.booleans())
        def refund_one_unit(self, data, restock):
            order = data.draw(st.sampled_from(
                [o for o in self.orders if o.status == "paid" and o.refundable()]))
            index = data.draw(st.sampled_from(order.refundable()))
            response = client.post(
                f"/api/v1/admin/orders/{order.id}/refunds", headers=admin,
                json={"lines": [{"line_id": order.line_ids[index], "quantity": 1}],
                      "restock": restock, "reason": "model"})
            assert response.status_code == 201, response.json
            order.refunded[index] = order.refunded.get(index, 0) + 1
            if restock:
                self.stock[index].on_hand += 1

        # (only when something runs low, or this rule, always enabled, crowds out the rest)
        @precondition(lambda self: any(stock.available <= 2 for stock in self.stock))
        @rule(index=st.integers(0, 2), change=st.sampled_from(
            [("received", 2), ("returned", 1), ("damaged", -1), ("correction", -2)]))
        def adjust(self, index, change):
            stock, (reason, quantity) = self.stock[index], change
            response = client.post("/api/v1/admin/stock/adjustments", headers=admin,
                                   json={"sku": stock.sku, "reason": reason,
                                         "quantity": quantity})
            if stock.available + quantity < 0:
                assert response.status_code == 409, response.json
            else:
                assert response.status_code == 201, response.json
                stock.on_hand += quantity

        def _settle_paid(self, order):
            if order.status == "pending_payment":
                order.status, order.sold = "paid", True
                for index, quantity in order.lines.items():
                    self.stock[index].on_hand -= quantity
                    self.stock[index].reserved -= quantity

        @invariant()
        def stock_agrees(self):
            for stock in self.stock:
                row = level(db_session, stock.variant_id)
                assert (row.on_hand, row.reserved) == (stock.on_hand, stock.reserved)
                assert row.on_hand == ledger_sum(db_session, stock.variant_id)
                live = db_session.scalar(
                    select(func.coalesce(func.sum(StockReservation.quantity), 0))
                    .where(StockReservation.variant_id == stock.variant_id,
                           StockReservation.status == "active"))
                assert row.reserved == live and 0 <= row.reserved <= row.on_hand

        @invariant()
        def orders_agree(self):
            for order in self.orders:
                assert reload_order(db_session, order.id).status == order.status
                sold = sum(order.lines.values()) if order.sold else 0
                assert sales_of(db_session, order.id) == sold
                assert confirmation_emails(db_session, order.id) == (1 if order.sold else 0)

    run_state_machine_as_test(Shop, settings=MACHINE)
