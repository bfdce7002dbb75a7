"""Links from an email back to an order. A guest's order is opened with a signed link token,
as its own access token is stored hashed only and cannot be mailed again: the link names the
order, is bound to its access token (through the stored hash), and lapses after
ORDER_LINK_DAYS, long enough for a return after delivery."""

from __future__ import annotations

import hmac
from urllib.parse import quote

from flask import current_app
from itsdangerous import BadData, URLSafeTimedSerializer

from shop import keyring
from shop.orders.models import Order

SALT = "shop:order-link:v1"
BINDING_LENGTH = 16  # characters of the access token's hash the link carries


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(keyring.signing_keys(), salt=SALT)


def link_token(order: Order) -> str | None:
    """A guest order's link token; None for an account's order (its customer signs in)."""
    if not order.access_token_hash:
        return None
    return _serializer().dumps([order.id, order.access_token_hash[:BINDING_LENGTH]])


def opens(order: Order, token: str) -> bool:
    """Whether `token` is a live link token for this order."""
    if not order.access_token_hash or "." not in token:  # an access token has no dots
        return False
    max_age = current_app.config["ORDER_LINK_DAYS"] * 86_400
    try:
        order_id, binding = _serializer().loads(token, max_age=max_age)
    except (BadData, TypeError, ValueError):
        return False
    return order_id == order.id and hmac.compare_digest(
        str(binding), order.access_token_hash[:BINDING_LENGTH])


def order_link(order: Order) -> str | None:
    """ORDER_URL for this order (None when unset), with a guest's link token in place of
    {token}, or added as ?access_token= (the name the API reads it by)."""
    template = current_app.config["ORDER_URL"]
    if not template:
        return None
    token = link_token(order) or ""
    link = template.replace("{order_id}", str(order.id))
    if "{token}" in template:
        return link.replace("{token}", quote(token, safe=""))
    if not token:
        return link
    return f"{link}{'&' if '?' in link else '?'}access_token={quote(token, safe='')}"
