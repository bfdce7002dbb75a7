"""Data the write scenarios consume, made in the bench database before each runs: stocked
SKUs, carts (empty ones for cart add, one-line ones for checkout), signed webhook events."""

from __future__ import annotations

import json
import time
from pathlib import Path

from sqlalchemy import select

from shop import create_app
from shop.carts.models import Cart, CartItem
from shop.carts.services import new_cart_id
from shop.catalogue.models import Product, Variant
from shop.extensions import db
from shop.inventory import services as inventory
from shop.inventory.models import StockLevel
from shop.orders.models import Order
from shop.payments.models import Payment
from tests.fixtures.stripe import sign

BENCH_STOCK = 1_000_000


class Preparer:
    """Works on the bench database through the shop's own models and services."""

    def __init__(self, database_url: str, work_dir: Path) -> None:
        self.app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "LOG_LEVEL": "WARNING"})
        self.work_dir = work_dir

    def _write(self, name: str, lines: list[str]) -> Path:
        path = self.work_dir / name
        path.write_text("\n".join(lines) + "\n")
        return path

    def stocked_skus(self, count: int) -> list[str]:
        """`count` SKUs of active synthetic products, each given plenty of stock."""
        with self.app.app_context():
            variants = db.session.execute(
                select(Variant.id, Variant.sku).join(Variant.product).join(Variant.stock_level)
                .where(Product.status == "active", Product.slug.like("synthetic-%"),
                       Variant.is_active, Variant.voucher_kind.is_(None),
                       StockLevel.on_hand < BENCH_STOCK)
                .order_by(Variant.id).limit(count)
            ).all()
            for variant_id, _ in variants:
                inventory.record_movement(session=db.session, variant_id=variant_id,
                                          quantity=BENCH_STOCK, reason="received",
                                          note="bench stock")
            db.session.commit()
            skus = [sku for _, sku in db.session.execute(
                select(Variant.id, Variant.sku).join(Variant.stock_level)
                .where(StockLevel.on_hand >= BENCH_STOCK).order_by(Variant.id).limit(count))]
            db.session.remove()
        return skus

    def carts(self, count: int, skus: list[str], lines: int) -> list[str]:
        """`count` open guest carts with `lines` one-unit lines each (0: empty carts)."""
        with self.app.app_context():
            ids = dict(db.session.execute(
                select(Variant.sku, Variant.id).where(Variant.sku.in_(skus))).all())
            made = []
            for n in range(count):
                items = [CartItem(variant_id=ids[skus[(n + i) % len(skus)]], quantity=1)
                         for i in range(lines)]
                cart = Cart(id=new_cart_id(), status="open", items=items)
                db.session.add(cart)
                made.append(cart.id)
                if n % 1000 == 999:
                    db.session.flush()
            db.session.commit()
            db.session.remove()
        return made

    def carts_file(self, name: str, count: int, skus: list[str], lines: int) -> Path:
        return self._write(name, self.carts(count, skus, lines))

    def skus_file(self, name: str, skus: list[str]) -> Path:
        return self._write(name, skus)

    def succeeded_events_file(self, name: str, secret: str) -> tuple[Path, int]:
        """A signed payment_intent.succeeded event for every order still waiting for payment,
        shaped as Stripe sends it (signature scheme from tests/fixtures/stripe.py)."""
        with self.app.app_context():
            rows = db.session.execute(
                select(Payment.payment_intent_id, Payment.amount, Payment.currency,
                       Order.id, Order.number)
                .join(Order, Order.id == Payment.order_id)
                .where(Order.status == "pending_payment", Payment.payment_intent_id.is_not(None))
                .order_by(Order.id)
            ).all()
            db.session.remove()
        now = int(time.time())
        lines = []
        for n, (intent_id, amount, currency, order_id, number) in enumerate(rows):
            body = json.dumps({
                "id": f"evt_bench_{now}_{n}", "object": "event", "type": "payment_intent.succeeded",
                "created": now, "livemode": False, "api_version": "2017-08-15",
                "data": {"object": {
                    "id": intent_id, "object": "payment_intent", "amount": amount,
                    "amount_received": amount, "currency": currency.lower(),
                    "status": "succeeded", "metadata": {"order_id": str(order_id),
                                                        "order_number": number},
                }},
            }, separators=(",", ":")).encode()
            lines.append(f"{sign(body, secret, now)}\t{body.decode()}")
        return self._write(name, lines), len(lines)

    def counts(self) -> dict[str, int]:
        """Orders by status, to report what the write scenarios left behind."""
        from sqlalchemy import func

        with self.app.app_context():
            rows = db.session.execute(
                select(Order.status, func.count()).group_by(Order.status)).all()
            db.session.remove()
        return dict(rows)
