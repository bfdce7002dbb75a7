"""The order confirmation email: lines, totals and the VAT they include, as text and HTML."""

from __future__ import annotations

from html import escape

from shop.checkout import shipping
from shop.money import Money
from shop.orders.models import Order

SYMBOLS = {"GBP": "£", "EUR": "€", "USD": "$"}


def format_money(money: Money) -> str:
    sign = "-" if money.amount < 0 else ""
    pounds, pence = divmod(abs(money.amount), 100)
    symbol = SYMBOLS.get(money.currency)
    return f"{sign}{symbol}{pounds:,}.{pence:02d}" if symbol else (
        f"{sign}{pounds:,}.{pence:02d} {money.currency}"
    )


def _totals(order: Order) -> list[tuple[str, Money]]:
    rows = [("Subtotal", order.money(order.subtotal_amount))]
    if order.shipping_method:
        rows.append((shipping.BY_CODE[order.shipping_method].name,
                     order.money(order.shipping_amount)))
    if order.discount_amount:
        rows.append(("Discounts", order.money(-order.discount_amount)))
    rows.append(("Total", order.money(order.total_amount)))
    if order.amount_due != order.total_amount:
        rows.append(("Paid by card", order.money(order.amount_due)))
    return rows


def _vat_lines(order: Order) -> list[str]:
    rates = sorted({line.vat_rate for line in order.lines if line.vat_amount}, reverse=True)
    if not rates:
        return ["No VAT included."]
    rate_text = " and ".join(f"{rate}%" for rate in rates)
    return [f"Includes VAT ({rate_text}): {format_money(order.money(order.vat_amount))}"]


def _delivery(order: Order) -> str:
    if not order.shipping_method:
        return "Nothing to deliver."
    method = shipping.BY_CODE[order.shipping_method]
    address = order.shipping_address or {}
    parts = [address.get(key) for key in ("name", "line1", "line2", "city", "postcode")]
    where = ", ".join(part for part in parts if part)
    return f"{method.name}: {where}" if where else f"{method.name}. {method.description}"


def confirmation(order: Order) -> tuple[str, str, str]:
    """(subject, plain text, HTML) for the email sent once an order is paid."""
    subject = f"Your GLOW Clinic order {order.number}"
    lines = [
        (f"{line.quantity} x {line.name} ({line.sku})",
         format_money(order.money(line.line_total_amount)))
        for line in order.lines
    ]
    totals = [(label, format_money(amount)) for label, amount in _totals(order)]
    text = "\n".join([
        "Thank you for your order.", "", f"Order {order.number}", "",
        *(f"{label}  {amount}" for label, amount in lines), "",
        *(f"{label}: {amount}" for label, amount in totals), *_vat_lines(order), "",
        f"Delivery: {_delivery(order)}", "",
        "GLOW Clinic, London",
    ])
    rows = "".join(
        f"<tr><td>{escape(label)}</td><td align=\"right\">{escape(amount)}</td></tr>"
        for label, amount in [*lines, *totals]
    )
    html = (
        f"<html><body><h1>Thank you for your order</h1><p>Order <b>{escape(order.number)}</b></p>"
        f"<table>{rows}</table><p>{escape(' '.join(_vat_lines(order)))}</p>"
        f"<p>Delivery: {escape(_delivery(order))}</p><p>GLOW Clinic, London</p></body></html>"
    )
    return subject, text, html
