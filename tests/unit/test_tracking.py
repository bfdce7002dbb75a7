"""The carrier's tracking page for a parcel, from what staff typed at dispatch."""

import pytest

from shop.orders.tracking import tracking_url


@pytest.mark.parametrize(("carrier", "number", "expected"), [
    ("Royal Mail", "RM123456789GB",
     "https://www.royalmail.com/track-your-item#/tracking-results/RM123456789GB"),
    ("  royal   MAIL ", " RM1 ", "https://www.royalmail.com/track-your-item#/tracking-results/RM1"),
    ("DPD", "1550 1234", "https://track.dpd.co.uk/parcels/1550%201234"),
    ("Evri", "H00/1?x=&y", "https://www.evri.com/track/parcel/H00%2F1%3Fx%3D%26y"),
    ("A courier we do not know", "X1", None),
    ("DPD", None, None),
    (None, "X1", None),
])
def test_tracking_pages(carrier, number, expected):
    assert tracking_url(carrier, number) == expected
