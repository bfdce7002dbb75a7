"""The e-mails fulfilment sends: dispatched with tracking, or ready for collection."""

from __future__ import annotations

from html import escape

from shop.checkout.shipping import CLINIC_ADDRESS
from shop.orders.models import Order


def _items(order: Order) -> list[str]:
    return [f"{line.quantity} x {line.name}" for line in order.lines if line.kind == "product"]


def _html(title: str, paragraphs: list[str], items: list[str]) -> str:
    body = "".join(f"<p>{escape(text)}</p>" for text in paragraphs)
    listed = "".join(f"<li>{escape(item)}</li>" for item in items)
    return (f"<html><body><h1>{escape(title)}</h1>{body}<ul>{listed}</ul>"
            f"<p>GLOW Clinic, London</p></body></html>")


def dispatched(order: Order, carrier: str, tracking_number: str) -> tuple[str, str, str]:
    """(subject, text, html) for an order handed to the carrier."""
    subject = f"Your GLOW Clinic order {order.number} is on its way"
    paragraphs = [f"Good news: order {order.number} has been dispatched with {carrier}.",
                  f"Tracking number: {tracking_number}"]
    text = "\n".join([*paragraphs, "", *_items(order), "", "GLOW Clinic, London"])
    return subject, text, _html("Your order is on its way", paragraphs, _items(order))


def ready_for_collection(order: Order) -> tuple[str, str, str]:
    """(subject, text, html) for an order waiting at the clinic."""
    subject = f"Your GLOW Clinic order {order.number} is ready to collect"
    paragraphs = [f"Order {order.number} is ready for you to collect from {CLINIC_ADDRESS}.",
                  "Please bring this e-mail or your order number with you."]
    text = "\n".join([*paragraphs, "", *_items(order), "", "GLOW Clinic, London"])
    return subject, text, _html("Your order is ready to collect", paragraphs, _items(order))
