"""Random sequences of what customers, Stripe and staff do, against a model of the shop.

Hypothesis draws the sequences: carts filled and checked out, PaymentIntents paid on
localstripe, their `payment_intent.succeeded` events delivered (again and again, and after a
staff cancel) or fetched by the app's sync call, unpaid orders cancelled by staff, paid ones
refunded a unit at a time (restocked or not) and cancelled once refunded in full, made ready
for collection and asked back by the customer (returns refunded, restocked or not, or
withdrawn; never more than is left of a line), stock received, damaged and corrected, and
two money vouchers applied to carts (paying part or all of an order) and spent at the
clinic's till. Every run starts with one paid order. A plain model predicts every answer's
status, each variant's on hand and reserved, each voucher's balance and held amount and
each order's refunded units; after every step the database must agree with the model and
with itself: on hand is the ledger's sum, reserved is the sum of live reservations, nothing
is reserved beyond what is on hand, a voucher's balance and held amount are its ledger's
sums and never below zero or above each other, each order is due what the vouchers did not
pay, and each paid order sold its lines once and queued one confirmation email.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import func, select

from shop.admin.orders.services import refunded_quantities
from shop.money import Money
from shop.orders.models import Order as OrderRow
from shop.orders.models import StockReservation
from shop.vouchers import services as vouchers
from tests.carts.factories import ledger_sum, level, make_variant
from tests.fixtures.auth import bearer_for, make_user
from tests.payments.helpers import (
    confirmation_emails,
    post_event,
    reload_order,
    sales_of,
    stripe_event,
)
from tests.vouchers.conftest import assert_ledger_matches

SECRET = "whsec_test_secret"  # app_config's STRIPE_WEBHOOK_SECRET
MAX_LINE = 10  # CART_LINE_MAX_QUANTITY's default
MINIMUM_CARD_CHARGE = 30  # pence: Stripe charges no less
SOLD = ("paid", "fulfilled")
MACHINE = settings(max_examples=20, stateful_step_count=30, deadline=None, derandomize=True,
                   database=None, suppress_health_check=list(HealthCheck))


@dataclass
class Stock:
    sku: str
    variant_id: int
    price: int
    on_hand: int
    reserved: int = 0

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved


@dataclass
class Voucher:
    code: str
    id: int
    balance: int
    held: int = 0

    @property
    def available(self) -> int:
        return self.balance - self.held


@dataclass
class Cart:
    id: str
    lines: dict[int, int] = field(default_factory=dict)  # stock index → quantity
    open: bool = True
    voucher: Voucher | None = None


@dataclass
class Order:
    id: int
    lines: dict[int, int]  # stock index → quantity
    line_ids: dict[int, int]  # stock index → order line id
    client_secret: str | None  # None when vouchers paid it all
    intent_id: str | None
    access_token: str
    voucher: Voucher | None = None
    voucher_share: int = 0
    voucher_refunded: int = 0
    status: str = "pending_payment"
    paid_in_stripe: bool = False
    sold: bool = False
    refunded: dict[int, int] = field(default_factory=dict)  # stock index → units
    returning: dict[int, int] = field(default_factory=dict)  # stock index → units asked back
    open_returns: dict[int, tuple[int, int]] = field(default_factory=dict)  # id → (index, units)

    def refundable(self) -> list[int]:
        return [index for index, quantity in self.lines.items()
                if self.refunded.get(index, 0) < quantity]

    def returnable(self, index: int) -> int:
        return (self.lines.get(index, 0) - self.refunded.get(index, 0)
                - self.returning.get(index, 0))


def test_stock_and_orders_follow_the_model(client, db_session, use_localstripe):
    admin = bearer_for(db_session, make_user(db_session, role="admin"))

    class Shop(RuleBasedStateMachine):
        carts = Bundle("carts")

        def __init__(self):
            super().__init__()
            self.stock = [self._stocked(price, on_hand)
                          for price, on_hand in ((1000, 4), (1250, 6), (1500, 8))]
            self.orders: list[Order] = []
            self.vouchers = [self._issued(amount) for amount in (3000, 1200)]

        @staticmethod
        def _stocked(price: int, on_hand: int) -> Stock:
            variant = make_variant(db_session, price=price, stock=on_hand)
            return Stock(variant.sku, variant.id, price, on_hand)

        @staticmethod
        def _issued(amount: int) -> Voucher:
            issued = vouchers.issue(session=db_session, kind="money", value=Money(amount, "GBP"))
            return Voucher(issued.code, issued.voucher.id, amount)

        @initialize(collected=st.booleans())
        def a_paid_order(self, collected):
            """Every run starts with one paid order (ready for collection in some), so what
            staff and customers do after payment (refunds, collection, returns) is reached in
            most runs."""
            cart = Cart(client.post("/api/v1/carts").json["id"])
            self.add(cart, 0, 2)
            self.add(cart, 1, 1)
            self.checkout(cart)
            order = self.orders[-1]
            if order.client_secret:  # (else the vouchers paid it: it is paid already)
                assert use_localstripe.pay(order.client_secret)["status"] == "succeeded"
                order.paid_in_stripe = True
                self.sync_order(order)
            if collected:
                self.collect(order)

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
            total = sum(self.stock[i].price * quantity for i, quantity in cart.lines.items())
            voucher = cart.voucher if cart.voucher and usable(cart.voucher) else None
            share = voucher_share(total, voucher.available) if voucher else 0
            body, index_of = response.json, {stock.sku: n for n, stock in enumerate(self.stock)}
            assert body["order"]["totals"]["amount_due"]["amount"] == total - share
            line_ids = {index_of[line["sku"]]: line["id"] for line in body["order"]["lines"]}
            payment = body["payment"] or {}
            order = Order(body["order"]["id"], dict(cart.lines), line_ids,
                          payment.get("client_secret"), payment.get("payment_intent_id"),
                          body["access_token"], voucher if share else None, share)
            self.orders.append(order)
            for index, quantity in cart.lines.items():
                self.stock[index].reserved += quantity
            if share:
                voucher.held += share
            if share == total:  # nothing left for the card: paid at once
                assert body["payment"] is None and body["order"]["status"] == "paid"
                self._settle_paid(order)

        @rule(cart=carts, index=st.integers(0, 1))
        def apply_voucher(self, cart, index):
            if cart.voucher is not None:  # one per cart keeps the model's arithmetic plain
                return
            voucher = self.vouchers[index]
            response = client.post(f"/api/v1/carts/{cart.id}/vouchers",
                                   json={"code": voucher.code})
            if not cart.open:
                assert (response.status_code, response.json["code"]) == (409, "cart_not_open")
            elif not usable(voucher):
                assert (response.status_code, response.json["code"]) == (
                    422, "voucher_not_usable"), response.json
            else:
                assert response.status_code == 200, response.json
                cart.voucher = voucher

        # Stripe
        @precondition(lambda self: any(o.status == "pending_payment" and not o.paid_in_stripe
                                       for o in self.orders))
        @rule(data=st.data())
        def pay(self, data):
            order = data.draw(st.sampled_from(
                [o for o in self.orders if o.status == "pending_payment" and not o.paid_in_stripe]))
            assert order.client_secret is not None
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

        @precondition(lambda self: self.orders)
        @rule(data=st.data())
        def sync(self, data):
            """The app asks the shop to ask Stripe (the webhook's other road to the same end)."""
            self.sync_order(data.draw(st.sampled_from(self.orders)))

        def sync_order(self, order):
            response = client.post(f"/api/v1/orders/{order.id}/sync",
                                   headers={"X-Order-Token": order.access_token})
            assert response.status_code == 200, response.json
            if order.paid_in_stripe:
                self._settle_paid(order)
            assert response.json["order"]["status"] == order.status

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
                if order.voucher:
                    order.voucher.held -= order.voucher_share

        @precondition(lambda self: any(o.status in SOLD and o.refundable() for o in self.orders))
        @rule(data=st.data(), restock=st.booleans())
        def refund_one_unit(self, data, restock):
            order = data.draw(st.sampled_from(
                [o for o in self.orders if o.status in SOLD and o.refundable()]))
            index = data.draw(st.sampled_from(order.refundable()))
            response = client.post(
                f"/api/v1/admin/orders/{order.id}/refunds", headers=admin,
                json={"lines": [{"line_id": order.line_ids[index], "quantity": 1}],
                      "restock": restock, "reason": "model"})
            if order.returnable(index) < 1:  # the units left are in a return: its to refund
                assert (response.status_code, response.json["code"]) == (
                    409, "line_in_open_return"), response.json
                return
            assert response.status_code == 201, response.json
            to_voucher = self._refunded(order, index, 1, restock)
            assert response.json["voucher_amount"]["amount"] == to_voucher, response.json

        def _refunded(self, order, index: int, units: int, restock: bool) -> int:
            """Model a refund of `units` of a line: vouchers first, then the card; what went
            back to the voucher."""
            order.refunded[index] = order.refunded.get(index, 0) + units
            if restock:
                self.stock[index].on_hand += units
            to_voucher = min(self.stock[index].price * units,
                             order.voucher_share - order.voucher_refunded)
            if to_voucher:
                order.voucher_refunded += to_voucher
                order.voucher.balance += to_voucher
            return to_voucher

        @precondition(lambda self: any(o.status == "paid" for o in self.orders))
        @rule(data=st.data())
        def ready_for_collection(self, data):
            self.collect(data.draw(st.sampled_from([o for o in self.orders
                                                    if o.status == "paid"])))

        def collect(self, order):
            response = client.post(f"/api/v1/admin/orders/{order.id}/fulfil", headers=admin,
                                   json={"collected": True})
            assert response.status_code == 200, response.json
            order.status = "fulfilled"

        # returns: the customer asks, staff refund it (through the staff refund) or it is
        # withdrawn; a line is never asked back or refunded beyond what is left of it
        @precondition(lambda self: any(o.status == "fulfilled" for o in self.orders))
        @rule(data=st.data(), units=st.integers(1, 2))
        def ask_to_return(self, data, units):
            order = data.draw(st.sampled_from([o for o in self.orders
                                               if o.status == "fulfilled"]))
            index = data.draw(st.sampled_from(sorted(order.lines)))
            response = client.post(
                f"/api/v1/orders/{order.id}/returns", headers={"X-Order-Token": order.access_token},
                json={"lines": [{"line_id": order.line_ids[index], "quantity": units}],
                      "reason": "changed_mind"})
            if units > order.returnable(index):
                assert (response.status_code, response.json["code"]) == (
                    409, "return_exceeds_line"), response.json
                return
            assert response.status_code == 201, response.json
            order.returning[index] = order.returning.get(index, 0) + units
            order.open_returns[response.json["id"]] = (index, units)

        @precondition(lambda self: any(o.open_returns for o in self.orders))
        @rule(data=st.data(), restock=st.booleans(), withdraw=st.booleans())
        def settle_a_return(self, data, restock, withdraw):
            order = data.draw(st.sampled_from([o for o in self.orders if o.open_returns]))
            return_id = data.draw(st.sampled_from(sorted(order.open_returns)))
            index, units = order.open_returns.pop(return_id)
            order.returning[index] -= units
            if withdraw:
                response = client.post(f"/api/v1/orders/{order.id}/returns/{return_id}/withdraw",
                                       headers={"X-Order-Token": order.access_token})
                assert response.json["status"] == "withdrawn", response.json
                return
            response = client.post(f"/api/v1/admin/returns/{return_id}/refund", headers=admin,
                                   json={"restock": restock})
            assert response.status_code == 200, response.json  # its units were kept for it
            assert response.json["refunded"]["amount"] == self.stock[index].price * units
            self._refunded(order, index, units, restock)

        # (once the shop has taken a voucher: the till then meets the web shop's holds)
        @precondition(lambda self: any(order.voucher for order in self.orders))
        @rule(index=st.integers(0, 1), amount=st.sampled_from([50, 333, 970, 2970]))
        def spend_at_the_clinic(self, index, amount):
            voucher = self.vouchers[index]
            response = client.post(f"/api/v1/admin/vouchers/{voucher.code}/redemptions",
                                   headers=admin, json={"amount": {"amount": amount,
                                                                   "currency": "GBP"}})
            if usable(voucher) and amount <= voucher.available:
                assert response.status_code == 201, response.json
                voucher.balance -= amount
            else:
                assert response.status_code == 409, response.json

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
                if order.voucher:  # the hold becomes a debit
                    order.voucher.held -= order.voucher_share
                    order.voucher.balance -= order.voucher_share

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
        def vouchers_agree(self):
            for voucher in self.vouchers:
                row = assert_ledger_matches(db_session, voucher.id)
                assert (row.balance_amount, row.held_amount) == (voucher.balance, voucher.held)

        @invariant()
        def orders_agree(self):
            for order in self.orders:
                row: OrderRow = reload_order(db_session, order.id)
                assert row.status == order.status
                assert row.amount_due == row.total_amount - order.voucher_share
                sold = sum(order.lines.values()) if order.sold else 0
                assert sales_of(db_session, order.id) == sold
                assert confirmation_emails(db_session, order.id) == (1 if order.sold else 0)
                refunded = {order.line_ids[index]: units
                            for index, units in order.refunded.items() if units}
                assert refunded_quantities(db_session, order.id) == refunded

    run_state_machine_as_test(Shop, settings=MACHINE)


def voucher_share(total: int, available: int) -> int:
    """All the voucher can pay, except that the card is never left a positive amount below
    what Stripe will charge."""
    share = min(total, available)
    if 0 < total - share < MINIMUM_CARD_CHARGE:
        share = max(total - MINIMUM_CARD_CHARGE, 0)
    return share


def usable(voucher: Voucher) -> bool:
    """Active (a balance left: at zero it is redeemed) with something not held by an order."""
    return voucher.balance > 0 and voucher.available > 0
