"""Where a customer follows their parcel: what fulfilment recorded (the carrier and tracking
number staff gave, or a collection at the clinic), with the carrier's tracking page."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

from shop.orders.models import Order

# The carriers a UK clinic ships with; another carrier's parcels show their number only.
TRACKING_PAGES = {
    "royal mail": "https://www.royalmail.com/track-your-item#/tracking-results/{}",
    "parcelforce": "https://www.parcelforce.com/track-trace?trackNumber={}",
    "dpd": "https://track.dpd.co.uk/parcels/{}",
    "evri": "https://www.evri.com/track/parcel/{}",
    "dhl": "https://www.dhl.com/gb-en/home/tracking/tracking-parcel.html?tracking-id={}",
    "ups": "https://www.ups.com/track?loc=en_GB&tracknum={}",
    "fedex": "https://www.fedex.com/fedextrack/?trknbr={}",
}


def tracking_url(carrier: str | None, tracking_number: str | None) -> str | None:
    """The carrier's tracking page for the number ("Royal Mail", "royal  mail" alike)."""
    if not carrier or not tracking_number:
        return None
    page = TRACKING_PAGES.get(" ".join(carrier.lower().split()))
    return page.format(quote(tracking_number.strip(), safe="")) if page else None


def fulfilment(order: Order) -> dict[str, Any] | None:
    """The order's latest fulfilment, from its timeline (loaded with the order anyway)."""
    event = next((event for event in reversed(order.events) if event.type == "fulfilled"), None)
    if event is None:
        return None
    data = event.data or {}
    carrier, number = data.get("carrier"), data.get("tracking_number")
    at: datetime = event.created_at
    return {"collection": bool(data.get("collection")), "carrier": carrier,
            "tracking_number": number, "tracking_url": tracking_url(carrier, number), "at": at}
