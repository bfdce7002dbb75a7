"""The emails fulfilment sends: dispatched with tracking, or ready for collection."""

from __future__ import annotations

from shop.checkout.shipping import CLINIC_ADDRESS
from shop.orders.emails import address_lines, letter
from shop.orders.models import Order
from shop.orders.tracking import tracking_url


def _items(order: Order) -> list[str]:
    return [f"{line.quantity} x {line.name}" for line in order.lines if line.kind == "product"]


def dispatched(order: Order, carrier: str, tracking_number: str) -> tuple[str, str, str]:
    """(subject, text, html) for an order handed to the carrier."""
    subject = f"Your GLOW Clinic order {order.number} is on its way"
    paragraphs = [f"Good news: order {order.number} has been dispatched with {carrier}.",
                  f"Tracking number: {tracking_number}"]
    page = tracking_url(carrier, tracking_number)
    if page:
        paragraphs.append(f"Follow your parcel: {page}")
    return (subject, *letter("Your order is on its way", paragraphs, _items(order)))


def ready_for_collection(order: Order) -> tuple[str, str, str]:
    """(subject, text, html) for an order waiting at the clinic."""
    subject = f"Your GLOW Clinic order {order.number} is ready to collect"
    paragraphs = [f"Order {order.number} is ready for you to collect from {CLINIC_ADDRESS}.",
                  "Please bring this email or your order number with you."]
    return (subject, *letter("Your order is ready to collect", paragraphs, _items(order)))


def address_changed(order: Order) -> tuple[str, str, str]:
    """(subject, text, html) for a parcel the clinic will now send elsewhere: the customer
    sees the new address, and can object if they did not ask for it."""
    subject = f"The delivery address of your GLOW Clinic order {order.number} has changed"
    paragraphs = [f"Order {order.number} will now be delivered to:"]
    closing = ["If you did not ask for this change, please reply to this email or call the "
               "clinic before it is dispatched."]
    return (subject, *letter("Your delivery address has changed", paragraphs,
                             address_lines(order.shipping_address), closing))
