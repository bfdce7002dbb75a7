"""The emails an order's customer gets: the confirmation (lines, totals and the VAT they
include), refunds and cancellations, each as (subject, text, HTML)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from shop.checkout import shipping
from shop.money import Money
from shop.orders import links
from shop.orders.models import Order

SYMBOLS = {"GBP": "£", "EUR": "€", "USD": "$"}
SIGNATURE = "GLOW Clinic, London"
CARD_REFUND_TIMING = "banks usually show it within 5 to 10 working days"


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
        label = f"Discount ({order.discount_code})" if order.discount_code else "Discounts"
        rows.append((label, order.money(-order.discount_amount)))
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
    where = ", ".join(address_lines(order.shipping_address))
    return f"{method.name}: {where}" if where else f"{method.name}. {method.description}"


def address_lines(address: dict | None) -> list[str]:
    """A delivery address as the lines a letter shows (the empty ones left out)."""
    parts = [(address or {}).get(key) for key in ("name", "line1", "line2", "city", "postcode")]
    return [part for part in parts if part]


def confirmation(order: Order) -> tuple[str, str, str]:
    """(subject, plain text, HTML) for the email sent once an order is paid."""
    subject = f"Your GLOW Clinic order {order.number}"
    lines = [
        (f"{line.quantity} x {line.name} ({line.sku})",
         format_money(order.money(line.line_total_amount)))
        for line in order.lines
    ]
    totals = [(label, format_money(amount)) for label, amount in _totals(order)]
    link = links.order_link(order)
    follow = [f"Your order, its receipt and returns: {link}", ""] if link else []
    text = "\n".join([
        "Thank you for your order.", "", f"Order {order.number}", "",
        *(f"{label}  {amount}" for label, amount in lines), "",
        *(f"{label}: {amount}" for label, amount in totals), *_vat_lines(order), "",
        f"Delivery: {_delivery(order)}", "", *follow,
        "GLOW Clinic, London",
    ])
    rows = "".join(
        f"<tr><td>{escape(label)}</td><td align=\"right\">{escape(amount)}</td></tr>"
        for label, amount in [*lines, *totals]
    )
    html = (
        f"<html><body><h1>Thank you for your order</h1><p>Order <b>{escape(order.number)}</b></p>"
        f"<table>{rows}</table><p>{escape(' '.join(_vat_lines(order)))}</p>"
        f"<p>Delivery: {escape(_delivery(order))}</p>"
        + (f'<p><a href="{escape(link)}">Your order, its receipt and returns</a></p>'
           if link else "")
        + "<p>GLOW Clinic, London</p></body></html>"
    )
    return subject, text, html


def letter(title: str, paragraphs: list[str], items: list[str],
           closing: Sequence[str] = ()) -> tuple[str, str]:
    """(text, HTML) of a short email: its paragraphs, then the items it is about, then any
    closing paragraphs."""
    text = "\n".join([*paragraphs, *(["", *items] if items else []),
                      *(["", *closing] if closing else []), "", SIGNATURE])
    body = "".join(f"<p>{escape(paragraph)}</p>" for paragraph in paragraphs)
    listed = f"<ul>{''.join(f'<li>{escape(item)}</li>' for item in items)}</ul>" if items else ""
    after = "".join(f"<p>{escape(paragraph)}</p>" for paragraph in closing)
    html = (f"<html><body><h1>{escape(title)}</h1>{body}{listed}{after}"
            f"<p>{SIGNATURE}</p></body></html>")
    return text, html


def refunded(order: Order, *, card_amount: int, voucher_amount: int, items: list[str],
             store_credit_amount: int = 0) -> tuple[str, str, str]:
    """A refund the clinic made: how much, and where the money goes back to."""
    subject = f"Your GLOW Clinic refund for order {order.number}"
    total = format_money(order.money(card_amount + voucher_amount + store_credit_amount))
    paragraphs = [f"We have refunded {total} for order {order.number}."]
    if card_amount:
        paragraphs.append(f"{format_money(order.money(card_amount))} goes back to the card you "
                          f"paid with; {CARD_REFUND_TIMING}.")
    if voucher_amount:
        paragraphs.append(f"{format_money(order.money(voucher_amount))} goes back onto the gift "
                          "voucher you paid with, to spend again.")
    if store_credit_amount:
        paragraphs.append(f"{format_money(order.money(store_credit_amount))} comes as store "
                          "credit: a gift voucher we email you separately, to spend online or "
                          "at the clinic.")
    return (subject, *letter("Your refund", paragraphs, items))


def refunded_sold_out(order: Order, amount: int) -> tuple[str, str, str]:
    """A payment that came after the order's hold ended, when its stock had sold meanwhile."""
    subject = f"Your GLOW Clinic order {order.number} could not be completed"
    paragraphs = [
        f"We are sorry: the payment for order {order.number} reached us after the time we "
        "could hold its items for you, and they sold out in the meantime.",
        f"We have refunded all {format_money(order.money(amount))} to the card you paid with; "
        f"{CARD_REFUND_TIMING}.",
    ]
    return (subject, *letter("Your order could not be completed", paragraphs, _items(order)))


def refund_failed(order: Order, amount: int) -> tuple[str, str, str]:
    """A card refund the bank sent back: the customer was told it was on its way."""
    subject = f"Your GLOW Clinic refund for order {order.number} did not go through"
    paragraphs = [
        f"The refund of {format_money(order.money(amount))} for order {order.number} could "
        "not be paid back to your card (your bank returned it).",
        "The clinic has been told and will contact you to arrange it another way.",
    ]
    return (subject, *letter("Your refund did not go through", paragraphs, []))


def cancelled_by_clinic(order: Order, *, was_paid: bool) -> tuple[str, str, str]:
    subject = f"Your GLOW Clinic order {order.number} has been cancelled"
    paragraphs = [
        f"Order {order.number} has been cancelled by the clinic.",
        "Its refund was sent to you separately." if was_paid else
        "Nothing was charged for it, and any gift voucher held for it can be spent again.",
        "If you did not expect this, please reply to this email or call the clinic.",
    ]
    return (subject, *letter("Your order has been cancelled", paragraphs, _items(order)))


def order_link(order: Order, link: str | None) -> tuple[str, str, str]:
    """A customer who lost the way back to an order asked for it (POST /orders/lookup)."""
    subject = f"Your GLOW Clinic order {order.number}"
    if link and order.access_token_hash:
        paragraphs = [f"Here is the link to order {order.number}, its receipt and returns:",
                      link, "It works for a while only; ask again for a new one."]
    elif link:
        paragraphs = [f"Sign in to your account to see order {order.number}:", link]
    else:
        paragraphs = [f"Order {order.number} was placed with this email address. Sign in to "
                      "your account, or reply to this email, and the clinic will help."]
    closing = ["If you did not ask for this, you can ignore this email."]
    return (subject, *letter("Your order", paragraphs, [], closing))


def _items(order: Order) -> list[str]:
    return [f"{line.quantity} x {line.name}" for line in order.lines]
