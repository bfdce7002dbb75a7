"""The Stripe client, built once per app from its settings, and Stripe's failures mapped to ours."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import stripe
from flask import current_app

from shop.errors import ServiceUnavailable
from shop.http import storable
from shop.payments.transport import Urllib3Client

log = logging.getLogger(__name__)
EXTENSION_KEY = "shop.stripe_client"
# Failures of the provider or of our connection to it, not of the request we sent.
UNAVAILABLE = (stripe.APIConnectionError, stripe.APIError, stripe.RateLimitError,
               stripe.AuthenticationError, stripe.PermissionError)


def _settings(config) -> tuple:
    return (config["STRIPE_SECRET_KEY"], config["STRIPE_API_BASE"],
            config["STRIPE_MAX_RETRIES"], config["STRIPE_TIMEOUT_SECONDS"])


def build_client(config) -> stripe.StripeClient:
    secret_key, api_base, retries, timeout = _settings(config)
    if not secret_key:
        raise ServiceUnavailable("Card payments are not configured.",
                                 code="payment_provider_unavailable")
    return stripe.StripeClient(
        api_key=secret_key,
        base_addresses={"api": api_base} if api_base else None,
        max_network_retries=retries,
        http_client=Urllib3Client(timeout=timeout),
    )


# What our calls send and get back: the services and the object types of their replies.
_SERVICES = ("payment_intents", "refunds", "customers", "customer_sessions", "ephemeral_keys",
             "checkout.sessions")
_OBJECTS = ("payment_intent", "refund", "customer", "customer_session", "ephemeral_key",
            "checkout.session", "event")


def preload_sdk() -> None:
    """Import now what stripe-python imports lazily on first use (its client, each service,
    each object class), so that a new worker's first checkouts do not import it together."""
    client = stripe.StripeClient(api_key="sk_preload", http_client=Urllib3Client(timeout=1))
    for path in _SERVICES:
        service = client.v1
        for name in path.split("."):
            service = getattr(service, name)
    for kind in _OBJECTS:
        stripe.convert_to_stripe_object({"object": kind, "id": "preload"}, api_mode="V1")
    stripe.Webhook  # noqa: B018  (the attribute access is the import)


def stripe_client() -> stripe.StripeClient:
    """This app's client: built on first use, rebuilt if its Stripe settings change."""
    app = current_app._get_current_object()
    settings = _settings(app.config)
    cached = app.extensions.get(EXTENSION_KEY)
    if cached is None or cached[0] != settings:
        cached = (settings, build_client(app.config))
        app.extensions[EXTENSION_KEY] = cached
    return cached[1]


@contextmanager
def provider_errors(action: str) -> Iterator[None]:
    """Turn 'Stripe cannot be reached or is failing' into a 503 payment_provider_unavailable.

    Errors about the request itself (card declined, invalid state) pass through untouched.
    """
    try:
        yield
    except UNAVAILABLE as exc:
        log.warning("stripe unavailable while trying to %s: %s", action, exc.__class__.__name__)
        raise ServiceUnavailable(
            "The payment provider cannot be reached right now; please try again shortly.",
            code="payment_provider_unavailable", headers={"Retry-After": "30"},
        ) from exc


def as_dict(obj: Any) -> dict:
    """A Stripe object (or an event's payload) as plain dicts and lists, its text storable
    (as a webhook's is): a NUL or lone surrogate would fail PostgreSQL's insert."""
    return storable(obj.to_dict() if hasattr(obj, "to_dict") else dict(obj))


def id_of(value: Any) -> str | None:
    """An expandable field holds either an id or the embedded object."""
    if value is None or isinstance(value, str):
        return value
    return value.get("id")


def is_missing(exc: stripe.InvalidRequestError) -> bool:
    return exc.code == "resource_missing" or exc.http_status == 404
