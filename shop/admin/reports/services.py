"""The sales report: orders paid in a period, revenue, VAT, refunds and top products.

Days are UTC days. An order counts on the day it was paid (whatever happened to it since);
a refund counts on the day it was made: card refunds as the payments domain records them
(including automatic ones and those made in Stripe's dashboard), voucher credits as staff
refunds recorded them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shop.admin.models import OrderRefund
from shop.db import as_utc, utcnow
from shop.money import Money
from shop.orders.models import Order, OrderLine
from shop.payments.models import Refund

DEFAULT_DAYS = 30
NOT_COUNTING = ("failed", "canceled")


@dataclass
class Day:
    date: date
    orders: int = 0
    revenue: int = 0
    vat: int = 0
    refunds: int = 0


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
    for created_at, amount in session.execute(
        select(Refund.created_at, Refund.amount)
        .where(Refund.created_at >= date_from, Refund.created_at < date_to,
               Refund.status.not_in(NOT_COUNTING))
    ):
        report.day(created_at).refunds += amount
    for created_at, amount in session.execute(
        select(OrderRefund.created_at, OrderRefund.voucher_amount)
        .where(OrderRefund.created_at >= date_from, OrderRefund.created_at < date_to,
               OrderRefund.voucher_amount > 0)
    ):
        report.day(created_at).refunds += amount
    report.days = dict(sorted(report.days.items()))
    report.top_products = _top_products(session, date_from, date_to, top)
    return report


def report_rows(report: SalesReport) -> list[dict]:
    """The CSV: one row per day, a total row, then the top products (amounts in pence)."""
    rows = [{"section": "day", "date": day.date.isoformat(), "orders": day.orders,
             "revenue": day.revenue, "vat": day.vat, "refunds": day.refunds}
            for day in report.days.values()]
    rows.append({"section": "total", "orders": report.total("orders"),
                 "revenue": report.total("revenue"), "vat": report.total("vat"),
                 "refunds": report.total("refunds")})
    rows += [{"section": "top_product", "sku": item["sku"], "name": item["name"],
              "quantity": item["quantity"], "revenue": item["revenue"]}
             for item in report.top_products]
    return rows


CSV_COLUMNS = ("section", "date", "sku", "name", "orders", "quantity", "revenue", "vat",
               "refunds")


def report_json(report: SalesReport) -> dict:
    return {
        "from": report.date_from, "to": report.date_to, "currency": report.currency,
        **report.summary,
        "top_products": [{**item, "revenue": report.money(item["revenue"])}
                         for item in report.top_products],
        "days": [{"date": day.date, "orders": day.orders, "revenue": report.money(day.revenue),
                  "vat": report.money(day.vat), "refunds": report.money(day.refunds)}
                 for day in report.days.values()],
    }
