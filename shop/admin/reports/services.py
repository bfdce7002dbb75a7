"""The sales report: orders paid in a period, revenue, VAT, refunds and top products.

Days are UTC days. An order counts on the day it was paid (whatever happened to it since);
a refund counts on the day it was made, as the order's credit notes show it
(shop.orders.credit_notes): staff refunds, card refunds made outside the shop (automatic ones,
those made in Stripe's dashboard), what each paid back (not a card refund the bank sent
back) and the VAT each takes back, so the period's net VAT is what its VAT return needs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from flask import current_app
from sqlalchemy import func, select, union
from sqlalchemy.orm import Session, selectinload

from shop.admin.models import OrderRefund
from shop.db import as_utc, utcnow
from shop.money import Money
from shop.orders import credit_notes
from shop.orders.models import Order, OrderLine
from shop.payments.models import Refund

DEFAULT_DAYS = 30


@dataclass
class Day:
    date: date
    orders: int = 0
    revenue: int = 0
    vat: int = 0
    refunds: int = 0
    refunds_vat: int = 0


@dataclass
class SalesReport:
    date_from: datetime
    date_to: datetime
    currency: str
    days: dict[date, Day] = field(default_factory=dict)
    top_products: list[dict] = field(default_factory=list)

    def day(self, moment: datetime) -> Day:
        when = as_utc(moment).date()
        return self.days.setdefault(when, Day(when))

    def money(self, amount: int) -> Money:
        return Money(amount, self.currency)

    def total(self, name: str) -> int:
        return sum(getattr(day, name) for day in self.days.values())

    @property
    def summary(self) -> dict:
        orders, revenue = self.total("orders"), self.total("revenue")
        refunds = self.total("refunds")
        return {
            "orders": orders, "revenue": self.money(revenue), "vat": self.money(self.total("vat")),
            "refunds": self.money(refunds), "net_revenue": self.money(revenue - refunds),
            "refunds_vat": self.money(self.total("refunds_vat")),
            "net_vat": self.money(self.total("vat") - self.total("refunds_vat")),
            "average_order": self.money(revenue // orders if orders else 0),
        }


def _paid_between(date_from: datetime, date_to: datetime):
    return (Order.paid_at.is_not(None), Order.paid_at >= date_from, Order.paid_at < date_to)


def _top_products(session: Session, date_from: datetime, date_to: datetime, limit: int):
    revenue = func.sum(OrderLine.line_total_amount)
    rows = session.execute(
        select(OrderLine.sku, func.max(OrderLine.name), func.sum(OrderLine.quantity), revenue)
        .join(Order, Order.id == OrderLine.order_id)
        .where(*_paid_between(date_from, date_to), OrderLine.kind == "product")
        .group_by(OrderLine.sku)
        .order_by(revenue.desc(), OrderLine.sku)
        .limit(limit)
    )
    return [{"sku": sku, "name": name, "quantity": int(quantity), "revenue": int(amount)}
            for sku, name, quantity, amount in rows]


def sales_report(
    *, session: Session, date_from: datetime | None = None, date_to: datetime | None = None,
    top: int = 10,
) -> SalesReport:
    date_to = date_to or utcnow()
    date_from = date_from or date_to - timedelta(days=DEFAULT_DAYS)
    report = SalesReport(date_from, date_to, current_app.config["SHOP_CURRENCY"])
    for paid_at, total, vat in session.execute(
        select(Order.paid_at, Order.total_amount, Order.vat_amount)
        .where(*_paid_between(date_from, date_to))
    ):
        day = report.day(paid_at)
        day.orders, day.revenue, day.vat = day.orders + 1, day.revenue + total, day.vat + vat
    _add_refunds(session, report)
    report.days = dict(sorted(report.days.items()))
    report.top_products = _top_products(session, date_from, date_to, top)
    return report


def _add_refunds(session: Session, report: SalesReport) -> None:
    """The credit notes made in the period, on their days (one order's at a time: the VAT a
    refund takes back depends on the refunds of its order before it)."""
    within = (report.date_from, report.date_to)
    refunded = union(
        select(Refund.order_id).where(Refund.created_at >= within[0],
                                      Refund.created_at < within[1]),
        select(OrderRefund.order_id).where(OrderRefund.created_at >= within[0],
                                           OrderRefund.created_at < within[1]))
    for order in session.scalars(select(Order).where(Order.id.in_(refunded))
                                 .options(selectinload(Order.lines)).order_by(Order.id)):
        for note in credit_notes.credit_notes(order, credit_notes.refunds_of(session, order.id)):
            if within[0] <= as_utc(note.created_at) < within[1]:
                day = report.day(note.created_at)
                day.refunds += note.paid_back.amount
                day.refunds_vat += note.vat.amount


def report_rows(report: SalesReport) -> list[dict]:
    """The CSV: one row per day, a total row, then the top products (amounts in pence)."""
    rows = [{"section": "day", "date": day.date.isoformat(), "orders": day.orders,
             "revenue": day.revenue, "vat": day.vat, "refunds": day.refunds,
             "refunds_vat": day.refunds_vat}
            for day in report.days.values()]
    rows.append({"section": "total", "orders": report.total("orders"),
                 "revenue": report.total("revenue"), "vat": report.total("vat"),
                 "refunds": report.total("refunds"),
                 "refunds_vat": report.total("refunds_vat")})
    rows += [{"section": "top_product", "sku": item["sku"], "name": item["name"],
              "quantity": item["quantity"], "revenue": item["revenue"]}
             for item in report.top_products]
    return rows


CSV_COLUMNS = ("section", "date", "sku", "name", "orders", "quantity", "revenue", "vat",
               "refunds", "refunds_vat")


def report_json(report: SalesReport) -> dict:
    return {
        "from": report.date_from, "to": report.date_to, "currency": report.currency,
        **report.summary,
        "top_products": [{**item, "revenue": report.money(item["revenue"])}
                         for item in report.top_products],
        "days": [{"date": day.date, "orders": day.orders, "revenue": report.money(day.revenue),
                  "vat": report.money(day.vat), "refunds": report.money(day.refunds),
                  "refunds_vat": report.money(day.refunds_vat)}
                 for day in report.days.values()],
    }
