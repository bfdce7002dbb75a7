"""Per-process cache of public catalogue responses, keyed by the catalogue version.

Every catalogue write bumps the version (shop/catalogue_version.py), so an edit is visible
on the next request. Stock changes do not bump it: availability in a cached page may be up
to CATALOGUE_RESPONSE_CACHE_SECONDS old, which is harmless because carts and checkout
always re-check stock under lock.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from threading import Lock

from flask import Response, current_app, g, request

from shop.catalogue_version import current_catalogue_version
from shop.extensions import db


@dataclass(frozen=True, slots=True)
class CachedBody:
    body: bytes
    expires_at: float


class ResponseCache:
    def __init__(self, max_entries: int = 4096) -> None:
        self._entries: OrderedDict[tuple, CachedBody] = OrderedDict()
        self._lock = Lock()
        self._max_entries = max_entries

    def get(self, key: tuple) -> bytes | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry.expires_at < time.monotonic():
                return None
            self._entries.move_to_end(key)
            return entry.body

    def put(self, key: tuple, body: bytes, ttl: float) -> None:
        with self._lock:
            self._entries[key] = CachedBody(body, time.monotonic() + ttl)
            self._entries.move_to_end(key)
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)


def _ttl() -> int:
    return current_app.config["CATALOGUE_RESPONSE_CACHE_SECONDS"]


def _cache() -> ResponseCache:
    return current_app.extensions.setdefault("catalogue_response_cache", ResponseCache())


def serve_from_cache() -> Response | None:
    """before_request: answer a repeated catalogue GET without touching the ORM."""
    if request.method != "GET" or _ttl() <= 0:
        return None
    g.catalogue_cache_key = (current_catalogue_version(db.session), request.full_path)
    body = _cache().get(g.catalogue_cache_key)
    if body is None:
        return None
    return Response(body, status=200, mimetype="application/json")


def remember(response: Response) -> None:
    """after_request: keep a fresh 200 for the next identical request."""
    key = g.pop("catalogue_cache_key", None)
    if key is not None and response.status_code == 200 and not response.direct_passthrough:
        _cache().put(key, response.get_data(), _ttl())
