"""The VAT receipt of a paid order, as a printable HTML page: what a UK VAT invoice must
show (HMRC VAT Notice 700/21): the seller's name, address and VAT registration number, a
unique number (the order's), the date of supply (when it was paid), what was supplied with
quantities and prices, the VAT rate of each line, the VAT by rate and the total. The order's
refunds follow, each as a credit note (shop.orders.credit_notes) with what it refunded, where
the money went back and the VAT it takes back, in all and at each rate (with the amount net of
VAT it was taken on), then what was paid and the VAT net of them.
Every value from the order is escaped; the page carries no script and its CSP allows none."""

from __future__ import annotations

from html import escape
from zoneinfo import ZoneInfo

from flask import current_app

from shop.checkout import shipping
from shop.db import as_utc
from shop.errors import Conflict
from shop.orders.credit_notes import CreditNote, net
from shop.orders.emails import address_lines, format_money
from shop.orders.models import Order

UK_TIME = ZoneInfo("Europe/London")
CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"
STYLE = ("body{font-family:sans-serif;max-width:46rem;margin:2rem auto;color:#222}"
         "table{width:100%;border-collapse:collapse}td,th{padding:.3rem;text-align:left;"
         "border-bottom:1px solid #ddd}.n{text-align:right}")


def render(order: Order, refunds: list[CreditNote]) -> str:
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
    return _page(order, seller, rows, totals, _refunds(order, refunds))


def _date(moment) -> str:
    return f"{as_utc(moment).astimezone(UK_TIME):%d %B %Y}"


def _paid_back(note: CreditNote) -> str:
    parts = []
    if note.voucher_amount.amount:
        parts.append(f"gift vouchers {format_money(note.voucher_amount)}")
    if note.store_credit_amount.amount:
        parts.append(f"store credit (gift voucher) {format_money(note.store_credit_amount)}")
    if note.card_amount.amount:
        failed = note.status == "card_refund_failed"
        parts.append(f"card {format_money(note.card_amount)}"
                     + (" (failed: not refunded)" if failed else ""))
    return ", ".join(parts)


def _refunds(order: Order, refunds: list[CreditNote]) -> str:
    """The credit notes, each with its VAT by rate under it, then what was paid and the VAT
    net of them; nothing without any."""
    if not refunds:
        return ""
    notes = "".join(_note(note) for note in refunds)
    paid, vat = net(order, refunds)
    return (f"<h2>Refunds</h2><table><tr><th>Credit note</th><th>Date</th><th>Refunded</th>"
            f"<th>Paid back to</th><th class=n>Amount</th><th class=n>VAT taken back</th></tr>"
            f"{notes}"  # net paid under the amounts, net VAT under VAT
            f"<tr><td colspan=4>Net paid</td><td class=n>{escape(format_money(paid))}</td>"
            f"<td></td></tr>{_sums([('Net VAT', format_money(vat))], 5)}</table>")


def _note(note: CreditNote) -> str:
    """Its row, then a row for each rate: the VAT taken back at it, and on what."""
    refunded = ", ".join(f"{line.quantity} × {line.name} ({line.sku})" for line in note.lines)
    row = (note.credit_note, _date(note.created_at), refunded or "amount refund",
           _paid_back(note), format_money(note.amount), format_money(note.vat))
    return _cells([row], numbers_from=4) + _sums(
        [(f"VAT at {part.rate}% on {format_money(part.net)}", format_money(part.vat))
         for part in note.vat_by_rate], 5)


def _cells(rows: list[tuple], numbers_from: int = 1) -> str:
    return "".join(
        "<tr>" + "".join(f'<td{" class=n" if index >= numbers_from else ""}>{escape(value)}</td>'
                         for index, value in enumerate(row)) + "</tr>" for row in rows)


def _sums(totals: list[tuple], span: int) -> str:
    return "".join(f"<tr><td colspan={span}>{escape(label)}</td>"
                   f"<td class=n>{escape(value)}</td></tr>" for label, value in totals)


def _page(order: Order, seller: list[str], rows: list[tuple], totals: list[tuple],
          refunds: str) -> str:
    cells, sums = _cells(rows), _sums(totals, 4)
    customer = [order.email, *address_lines(order.shipping_address)]
    return (
        f"<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>Receipt {escape(order.number)}</title><style>{STYLE}</style></head><body>"
        f"<h1>VAT receipt</h1>"
        f"<p>{'<br>'.join(escape(line) for line in seller)}</p>"
        f"<p>Receipt number: {escape(order.number)}<br>"
        f"Date of supply: {_date(order.paid_at)}</p>"
        f"<p>Customer: {'<br>'.join(escape(line) for line in customer)}</p>"
        f"<table><tr><th>Item</th><th class=n>Qty</th><th class=n>Unit price</th>"
        f"<th class=n>VAT rate</th><th class=n>Amount</th></tr>{cells}{sums}</table>"
        f"{refunds}<p>Prices include VAT.</p></body></html>"
    )

