"""The emails fulfilment sends: dispatched with tracking, or ready for collection."""

from __future__ import annotations

from shop.checkout.shipping import CLINIC_ADDRESS
from shop.orders.emails import letter
from shop.orders.models import Order


def _items(order: Order) -> list[str]:
    return [f"{line.quantity} x {line.name}" for line in order.lines if line.kind == "product"]


def dispatched(order: Order, carrier: str, tracking_number: str) -> tuple[str, str, str]:
    """(subject, text, html) for an order handed to the carrier."""
    subject = f"Your GLOW Clinic order {order.number} is on its way"
    paragraphs = [f"Good news: order {order.number} has been dispatched with {carrier}.",
                  f"Tracking number: {tracking_number}"]
    return (subject, *letter("Your order is on its way", paragraphs, _items(order)))


def ready_for_collection(order: Order) -> tuple[str, str, str]:
    """(subject, text, html) for an order waiting at the clinic."""
    subject = f"Your GLOW Clinic order {order.number} is ready to collect"
    paragraphs = [f"Order {order.number} is ready for you to collect from {CLINIC_ADDRESS}.",
                  "Please bring this email or your order number with you."]
    return (subject, *letter("Your order is ready to collect", paragraphs, _items(order)))
