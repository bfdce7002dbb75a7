"""Per-process cache of public catalogue responses, keyed by the catalogue version.

Every catalogue write bumps the version (shop/catalogue_version.py), so an edit is visible
once each process has read the new version: each process reads it at most every
CATALOGUE_VERSION_CHECK_MS (200 ms by default; 0 reads it on every request). That read was
half the cost of a cache hit, and a fifth of a second is well inside what a shopper notices.
Stock changes do not bump the version: availability in a cached page may be up to
CATALOGUE_RESPONSE_CACHE_SECONDS old, which is harmless because carts and checkout always
re-check stock under lock.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from threading import Lock

from flask import Response, current_app, g, request

from shop.catalogue_version import current_catalogue_version
from shop.extensions import db

EXTENSION_KEY = "catalogue_response_cache"


@dataclass(frozen=True, slots=True)
class CachedBody:
    body: bytes
    expires_at: float


class ResponseCache:
    def __init__(self, max_entries: int = 4096) -> None:
        self._entries: OrderedDict[tuple, CachedBody] = OrderedDict()
        self._lock = Lock()
        self._max_entries = max_entries
        self._version: int | None = None
        self._version_read_at = float("-inf")

    def version(self, max_age: float) -> int:
        """The catalogue version, read from the database at most every `max_age` seconds.
        Two threads may both read it at the boundary: harmless, they get the same answer."""
        now = time.monotonic()
        if self._version is None or now - self._version_read_at >= max_age:
            self._version = current_catalogue_version(db.session)
            self._version_read_at = now
        return self._version

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


def _cache() -> ResponseCache:
    cache = current_app.extensions.get(EXTENSION_KEY)
    if cache is None:
        cache = current_app.extensions.setdefault(EXTENSION_KEY, ResponseCache())
    return cache


def serve_from_cache() -> Response | None:
    """before_request: answer a repeated catalogue GET without touching the ORM."""
    config = current_app.config
    if request.method != "GET" or config["CATALOGUE_RESPONSE_CACHE_SECONDS"] <= 0:
        return None
    cache = _cache()
    version = cache.version(config["CATALOGUE_VERSION_CHECK_MS"] / 1000)
    g.catalogue_cache_key = key = (version, request.full_path)
    body = cache.get(key)
    if body is None:
        return None
    return Response(body, status=200, mimetype="application/json")


def remember(response: Response) -> None:
    """after_request: keep a fresh 200 for the next identical request."""
    key = g.pop("catalogue_cache_key", None)
    if key is not None and response.status_code == 200 and not response.direct_passthrough:
        ttl = current_app.config["CATALOGUE_RESPONSE_CACHE_SECONDS"]
        _cache().put(key, response.get_data(), ttl)
