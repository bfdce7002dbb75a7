"""The VAT receipt of a paid order, as a printable HTML page: what a UK VAT invoice must
show (HMRC VAT Notice 700/21): the seller's name, address and VAT registration number, a
unique number (the order's), the date of supply (when it was paid), what was supplied with
quantities and prices, the VAT rate of each line, the VAT by rate and the total. Every value
from the order is escaped; the page carries no script and its CSP allows none."""

from __future__ import annotations

from html import escape
from zoneinfo import ZoneInfo

from flask import current_app

from shop.checkout import shipping
from shop.db import as_utc
from shop.errors import Conflict
from shop.orders.emails import address_lines, format_money
from shop.orders.models import Order

UK_TIME = ZoneInfo("Europe/London")
CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"
STYLE = ("body{font-family:sans-serif;max-width:46rem;margin:2rem auto;color:#222}"
         "table{width:100%;border-collapse:collapse}td,th{padding:.3rem;text-align:left;"
         "border-bottom:1px solid #ddd}.n{text-align:right}")


def render(order: Order) -> str:
    if order.paid_at is None:
        raise Conflict("A receipt is issued once the order is paid.", code="order_not_paid")
    config = current_app.config
    seller = [config["SELLER_NAME"], config["SELLER_ADDRESS"]]
    if config["VAT_REGISTRATION_NUMBER"]:
        seller.append(f"VAT registration number: {config['VAT_REGISTRATION_NUMBER']}")
    money = lambda amount: format_money(order.money(amount))  # noqa: E731
    rows = [(f"{line.name} ({line.sku})", str(line.quantity), money(line.unit_price_amount),
             f"{line.vat_rate}%", money(line.line_total_amount)) for line in order.lines]
    totals = [("Subtotal", money(order.subtotal_amount))]
    if order.discount_amount:
        label = f"Discount ({order.discount_code})" if order.discount_code else "Discount"
        totals.append((label, money(-order.discount_amount)))
    if order.shipping_method:
        totals.append((shipping.BY_CODE[order.shipping_method].name,
                       money(order.shipping_amount)))
    totals.append(("Total (VAT included)", money(order.total_amount)))
    totals += [(f"VAT at {row['rate']}%", money(row["amount"])) for row in order.vat_breakdown]
    if order.amount_due != order.total_amount:
        totals += [("Paid by gift voucher", money(order.total_amount - order.amount_due)),
                   ("Paid by card", money(order.amount_due))]
    return _page(order, seller, rows, totals)


def _page(order: Order, seller: list[str], rows: list[tuple], totals: list[tuple]) -> str:
    cells = "".join(
        "<tr>" + "".join(f'<td{" class=n" if index else ""}>{escape(value)}</td>'
                         for index, value in enumerate(row)) + "</tr>" for row in rows)
    sums = "".join(f"<tr><td colspan=4>{escape(label)}</td><td class=n>{escape(value)}</td></tr>"
                   for label, value in totals)
    customer = [order.email, *address_lines(order.shipping_address)]
    return (
        f"<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>Receipt {escape(order.number)}</title><style>{STYLE}</style></head><body>"
        f"<h1>VAT receipt</h1>"
        f"<p>{'<br>'.join(escape(line) for line in seller)}</p>"
        f"<p>Receipt number: {escape(order.number)}<br>"
        f"Date of supply: {as_utc(order.paid_at).astimezone(UK_TIME):%d %B %Y}</p>"
        f"<p>Customer: {'<br>'.join(escape(line) for line in customer)}</p>"
        f"<table><tr><th>Item</th><th class=n>Qty</th><th class=n>Unit price</th>"
        f"<th class=n>VAT rate</th><th class=n>Amount</th></tr>{cells}{sums}</table>"
        f"<p>Prices include VAT.</p></body></html>"
    )

