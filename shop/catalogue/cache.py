"""Per-process cache of public catalogue responses, in front of the app, keyed by the catalogue
version.

A catalogue GET that was answered with a 200 is kept whole (status, headers, body) by a WSGI
middleware around the app, and the same request is answered from it without entering Flask:
no rate-limit check, no URL matching, no session. A profile of a repeated product page put
those at three quarters of a hit's cost; the hit is now a dict look-up. Only responses the
catalogue blueprint marks as cacheable (shop/catalogue/routes.py) are stored, so nothing
private can be replayed; the key holds everything such a response depends on: the catalogue
version, host, path, query string and Origin (CORS headers vary with it). Per-request
headers are made fresh on a hit: X-Request-ID (shop.http.request_id) and Date. A matching
If-None-Match gets a 304. The catalogue routes carry no rate limit, so skipping the limiter
changes nothing today; a global default limit would not apply to cache hits.

Every catalogue write bumps the version (shop/catalogue_version.py); each process reads it at
most every CATALOGUE_VERSION_CHECK_MS (200 ms by default; 0 reads it on every request), so an
edit shows everywhere within that. Stock changes do not bump it: availability in a cached page
may be up to CATALOGUE_RESPONSE_CACHE_SECONDS old (plus the few milliseconds of a refresh, see
below), which is harmless because carts and checkout always re-check stock under lock.

One thread per process builds a missing or expired response; the others do not build it too.
When a page's entry expired, every thread that asked for it in the next moment went to the
database for the same page: eight threads of a gthread worker at once, every TTL, which stalled
a cached page for 100-250 ms under load (bench/README.md). Now, while one thread refreshes an
entry that expired less than a TTL ago, the others replay it as it was; for an entry that is
missing (a new version, a cold process) they wait for the builder (at most
BUILD_WAIT_SECONDS) and replay what it stored, or answer themselves if it stored nothing.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from threading import Event, Lock

from flask import Flask, Response, request
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.http import http_date, parse_etags, unquote_etag

from shop.catalogue.listing import read_without_transaction
from shop.catalogue_version import current_catalogue_version
from shop.extensions import db
from shop.http import request_id

STORE_FLAG = "shop.catalogue_cache.store"
CLOCK_KEY = "shop.catalogue_version_clock"
PER_REQUEST_HEADERS = frozenset({"x-request-id", "date"})
NOT_IN_304 = frozenset({"content-type", "content-length"})
MAX_BYTES = 32 * 1024 * 1024  # per process
BUILD_WAIT_SECONDS = 2.0  # longest a request waits for another thread building its response


@dataclass(frozen=True, slots=True)
class Cached:
    status: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    etag: str | None
    expires_at: float


class ResponseStore:
    """Least recently used entries, at most MAX_BYTES of bodies, and the keys a thread is
    building an entry for."""

    def __init__(self, max_bytes: int = MAX_BYTES) -> None:
        self._entries: OrderedDict[tuple, Cached] = OrderedDict()
        self._building: dict[tuple, Event] = {}
        self._lock = Lock()
        self._bytes = 0
        self._max_bytes = max_bytes

    def get(self, key: tuple, *, stale_for: float = 0.0) -> Cached | None:
        """The entry, if it has not expired, or expired less than `stale_for` seconds ago."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry.expires_at + stale_for < time.monotonic():
                return None
            self._entries.move_to_end(key)
            return entry

    def claim(self, key: tuple) -> Event | None:
        """None when the calling thread is now the one building `key`'s entry (it must call
        release(key) when done); otherwise the event the builder sets when it is done."""
        with self._lock:
            building = self._building.get(key)
            if building is None:
                self._building[key] = Event()
            return building

    def release(self, key: tuple) -> None:
        with self._lock:
            done = self._building.pop(key, None)
        if done is not None:
            done.set()

    def put(self, key: tuple, entry: Cached) -> None:
        with self._lock:
            old = self._entries.pop(key, None)
            self._bytes += len(entry.body) - (len(old.body) if old else 0)
            self._entries[key] = entry
            while self._bytes > self._max_bytes and self._entries:
                _, evicted = self._entries.popitem(last=False)
                self._bytes -= len(evicted.body)


class VersionClock:
    """The catalogue version as this process last read it: read again at most every
    CATALOGUE_VERSION_CHECK_MS, so that a cache hit costs no query. One thread reads it at a
    time; the others go on with the version they have meanwhile (with gthread workers, every
    thread at the boundary read it on a second connection of its own: a tenth of a page)."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self._version: int | None = None
        self._read_at = float("-inf")
        self._reading = Lock()

    def version(self) -> int:
        max_age = self.app.config["CATALOGUE_VERSION_CHECK_MS"] / 1000
        if self._version is not None and time.monotonic() - self._read_at < max_age:
            return self._version
        if not self._reading.acquire(blocking=self._version is None):
            return self._version  # another thread is reading it
        try:
            if self._version is None or time.monotonic() - self._read_at >= max_age:
                with self.app.app_context():  # its own connection: a caller may be outside one
                    self._version = current_catalogue_version(
                        read_without_transaction(db.session))
                self._read_at = time.monotonic()
            return self._version
        finally:
            self._reading.release()


def version_clock(app: Flask) -> VersionClock:
    """The app's clock, shared by the response cache and the product cards (cards.py)."""
    clock = app.extensions.get(CLOCK_KEY)
    if clock is None:
        clock = app.extensions[CLOCK_KEY] = VersionClock(app)
    return clock


class CatalogueResponseCache:
    """WSGI middleware: replay stored catalogue responses, store new ones the app marks."""

    def __init__(self, app: Flask, wsgi_app: Callable) -> None:
        self.app = app
        self.wsgi_app = wsgi_app
        self.store = ResponseStore()
        self.clock = version_clock(app)
        self._date = (0, "")

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        ttl = self.app.config["CATALOGUE_RESPONSE_CACHE_SECONDS"]
        if ttl <= 0 or environ["REQUEST_METHOD"] != "GET" or "HTTP_RANGE" in environ:
            return self.wsgi_app(environ, start_response)
        try:
            version = self.clock.version()
        except SQLAlchemyError:
            # The database is unreachable: outside Flask this would be a bare 500 from the
            # server. Without the cache the app answers (a 503 problem if it is still down).
            return self.wsgi_app(environ, start_response)
        key = (version, environ.get("HTTP_HOST"), environ.get("PATH_INFO"),
               environ.get("QUERY_STRING"), environ.get("HTTP_ORIGIN"))
        entry = self.store.get(key)
        if entry is not None:
            return self._replay(entry, environ, start_response)
        building = self.store.claim(key)
        if building is None:
            try:
                return self._pass_through(key, ttl, environ, start_response)
            finally:
                self.store.release(key)
        entry = self.store.get(key, stale_for=ttl)  # another thread is refreshing it
        if entry is None and building.wait(BUILD_WAIT_SECONDS):
            entry = self.store.get(key)
        if entry is not None:
            return self._replay(entry, environ, start_response)
        return self.wsgi_app(environ, start_response)  # nothing was stored: answer it ourselves

    def _replay(self, entry: Cached, environ: dict, start_response: Callable) -> list[bytes]:
        headers = [*entry.headers, ("Date", self._http_date()),
                   ("X-Request-ID", request_id(environ.get("HTTP_X_REQUEST_ID", "")))]
        if_none_match = environ.get("HTTP_IF_NONE_MATCH")
        if if_none_match and entry.etag and parse_etags(if_none_match).contains_weak(entry.etag):
            start_response("304 NOT MODIFIED",
                           [h for h in headers if h[0].lower() not in NOT_IN_304])
            return []
        start_response(entry.status, headers)
        return [entry.body]

    def _pass_through(self, key: tuple, ttl: int, environ: dict,
                      start_response: Callable) -> Iterable[bytes]:
        captured: list = []

        def capture(status: str, headers: list, exc_info=None):
            captured[:] = [status, headers]
            return start_response(status, headers, exc_info)

        app_iter = self.wsgi_app(environ, capture)
        if not environ.get(STORE_FLAG) or not captured or not captured[0].startswith("200"):
            return app_iter
        try:
            body = b"".join(app_iter)
        finally:
            getattr(app_iter, "close", lambda: None)()
        status, headers = captured
        kept = tuple((name, value) for name, value in headers
                     if name.lower() not in PER_REQUEST_HEADERS)
        etag = next((unquote_etag(value)[0] for name, value in headers
                     if name.lower() == "etag"), None)
        self.store.put(key, Cached(status, kept, body, etag, time.monotonic() + ttl))
        return [body]

    def _http_date(self) -> str:
        second = int(time.time())
        if self._date[0] != second:
            self._date = (second, http_date(second))
        return self._date[1]


def install(app: Flask) -> None:
    """Put the cache in front of `app` (called once, when the catalogue blueprint registers)."""
    app.wsgi_app = CatalogueResponseCache(app, app.wsgi_app)  # type: ignore[method-assign]


def remember(response: Response) -> None:
    """after_request of the catalogue blueprint: a 200 to a GET may be replayed as it leaves."""
    if request.method == "GET" and response.status_code == 200 \
            and not response.direct_passthrough:
        request.environ[STORE_FLAG] = True
