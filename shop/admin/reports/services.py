"""The sales report: orders paid in a period, revenue, VAT, refunds and top products.

Days are UTC days. An order counts on the day it was paid (whatever happened to it since);
a refund counts on the day it was made, as the order's credit notes show it
(shop.orders.credit_notes): staff refunds, card refunds made outside the shop (automatic ones,
those made in Stripe's dashboard), what each paid back and the VAT each takes back, in all
and by rate, so the period's net VAT is what its VAT return needs.

A day once reported stays as it was: a card refund the bank sends back later is booked on the
day we learnt it failed (`refunds.failed_at`), as a reversal (negative refunds and refunds_vat)
of what the day it was made counted. Each day books the change its refunds and failures made
to the orders' credit notes as they stood then, so the days add up to the credit notes as they
are now (a failure also moves the VAT share of an amount refund made after it: the reversal
books that too). A card refund that failed at once never counted, so books nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
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
    refunds_by_rate: dict[int, tuple[int, int]] = field(default_factory=dict)  # (net, vat)


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

    def refunds_by_rate(self) -> dict[int, tuple[int, int]]:
        return _added(day.refunds_by_rate for day in self.days.values())

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


@dataclass(frozen=True)
class Booked:
    """What credit notes paid back and took back: in all, and (net, VAT) at each rate."""

    refunds: int = 0
    vat: int = 0
    by_rate: dict[int, tuple[int, int]] = field(default_factory=dict)

    def __sub__(self, other: Booked) -> Booked:
        return Booked(self.refunds - other.refunds, self.vat - other.vat, _added(
            [self.by_rate, {rate: (-net, -vat) for rate, (net, vat) in other.by_rate.items()}]))


def _added(many: Iterable[dict[int, tuple[int, int]]]) -> dict[int, tuple[int, int]]:
    """(net, VAT) by rate, added up; the rates that come to nothing left out."""
    total: dict[int, tuple[int, int]] = defaultdict(lambda: (0, 0))
    for by_rate in many:
        for rate, (net, vat) in by_rate.items():
            total[rate] = (total[rate][0] + net, total[rate][1] + vat)
    return {rate: pair for rate, pair in sorted(total.items(), reverse=True) if pair != (0, 0)}


def _booked(notes: Sequence[credit_notes.CreditNote]) -> Booked:
    return Booked(sum(note.paid_back.amount for note in notes),
                  sum(note.vat.amount for note in notes),
                  _added({part.rate: (part.net.amount, part.vat.amount)
                          for part in note.vat_by_rate} for note in notes))


def bookings(order: Order, facts: Sequence[credit_notes.RefundFacts]
             ) -> Iterator[tuple[datetime, Booked]]:
    """Each change the order's refunds made to its credit notes, at the moment it was learnt:
    a refund made, or a card refund the bank sent back (a reversal)."""
    moments = sorted({as_utc(fact.created_at) for fact in facts}
                     | {as_utc(fact.card_failed_at) for fact in facts
                        if fact.card_failed and fact.card_failed_at is not None})
    before = Booked()
    for moment in moments:
        now = _booked(credit_notes.credit_notes(order, credit_notes.as_known_at(facts, moment)))
        yield moment, now - before
        before = now


def _add_refunds(session: Session, report: SalesReport) -> None:
    """The credit notes made, and the card refunds learnt failed, in the period, on their
    days (one order's at a time: the VAT a refund takes back depends on the refunds of its
    order before it)."""
    within = (report.date_from, report.date_to)
    refunded = union(
        select(Refund.order_id).where(Refund.created_at >= within[0],
                                      Refund.created_at < within[1]),
        select(Refund.order_id).where(Refund.failed_at >= within[0],
                                      Refund.failed_at < within[1]),
        select(OrderRefund.order_id).where(OrderRefund.created_at >= within[0],
                                           OrderRefund.created_at < within[1]))
    for order in session.scalars(select(Order).where(Order.id.in_(refunded))
                                 .options(selectinload(Order.lines)).order_by(Order.id)):
        for moment, booked in bookings(order, credit_notes.refunds_of(session, order.id)):
            if within[0] <= moment < within[1]:
                day = report.day(moment)
                day.refunds += booked.refunds
                day.refunds_vat += booked.vat
                day.refunds_by_rate = _added([day.refunds_by_rate, booked.by_rate])


def report_rows(report: SalesReport) -> list[dict]:
    """The CSV: one row per day, a total row, the top products, then what refunds paid back
    (VAT in) and took back at each rate, per day and in total (amounts in pence)."""
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
    rows += [{"section": "refunds_by_rate", "date": day.date.isoformat(), "rate": rate,
              "refunds": net + vat, "refunds_vat": vat}
             for day in report.days.values() for rate, (net, vat) in day.refunds_by_rate.items()]
    rows += [{"section": "total_refunds_by_rate", "rate": rate, "refunds": net + vat,
              "refunds_vat": vat} for rate, (net, vat) in report.refunds_by_rate().items()]
    return rows


CSV_COLUMNS = ("section", "date", "sku", "name", "orders", "quantity", "revenue", "vat",
               "refunds", "refunds_vat", "rate")


def _rates(report: SalesReport, by_rate: dict[int, tuple[int, int]]) -> list[dict]:
    return [{"rate": rate, "net": report.money(net), "vat": report.money(vat)}
            for rate, (net, vat) in by_rate.items()]


def report_json(report: SalesReport) -> dict:
    return {
        "from": report.date_from, "to": report.date_to, "currency": report.currency,
        **report.summary,
        "refunds_vat_by_rate": _rates(report, report.refunds_by_rate()),
        "top_products": [{**item, "revenue": report.money(item["revenue"])}
                         for item in report.top_products],
        "days": [{"date": day.date, "orders": day.orders, "revenue": report.money(day.revenue),
                  "vat": report.money(day.vat), "refunds": report.money(day.refunds),
                  "refunds_vat": report.money(day.refunds_vat),
                  "refunds_vat_by_rate": _rates(report, day.refunds_by_rate)}
                 for day in report.days.values()],
    }
