"""Idempotency-Key support for POST views that create things: `from shop.idempotency import
idempotent`, placed directly under `@access(...)`."""

from shop.idempotency.decorator import KEY_HEADER, REPLAYED_HEADER, idempotent

__all__ = ["KEY_HEADER", "REPLAYED_HEADER", "idempotent"]
