"""Cross-cutting HTTP behaviour: request ids, logging, security headers, body types, caching."""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, Response, current_app, g, has_request_context, request
from flask.json.provider import DefaultJSONProvider
from flask.sessions import SessionInterface
from pythonjsonlogger.json import JsonFormatter
from werkzeug.exceptions import NotFound
from werkzeug.routing import IntegerConverter, ValidationError

from shop.errors import problem

F = TypeVar("F", bound=Callable)
REQUEST_ID_PATTERN = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
BODY_METHODS = {"POST", "PUT", "PATCH"}


def accepts_body(*mimetypes: str) -> Callable[[F], F]:
    """Declare that a view takes a non-JSON body (a CSV upload, a raw webhook)."""

    def decorate(view: F) -> F:
        view.accepted_mimetypes = set(mimetypes)  # type: ignore[attr-defined]
        return view

    return decorate


def _current_view() -> Callable | None:
    view = current_app.view_functions.get(request.endpoint or "")
    view_class = getattr(view, "view_class", None)
    if view_class is not None:
        return getattr(view_class, request.method.lower(), None)
    return view


def _refuse_unsupported_body() -> Response | None:
    if request.routing_exception is not None or request.method not in BODY_METHODS:
        return None
    if not (request.content_length or request.data):
        return None
    if request.is_json:
        return None
    accepted = getattr(_current_view(), "accepted_mimetypes", set())
    if request.mimetype in accepted:
        return None
    return problem(
        415, "unsupported_media_type",
        f"Send the body as application/json (got {request.mimetype or 'no content type'}).",
    )


def _refuse_oversized_body() -> Response | None:
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    if limit and ((request.content_length or 0) > limit or _streamed_body_exceeds(limit)):
        return problem(413, "payload_too_large", f"Request bodies are limited to {limit} bytes.")
    return None


def _check_body() -> Response | None:
    """The body's size and type, for the requests that carry one (reads mostly carry none)."""
    if not _has_body():
        return None
    return _refuse_oversized_body() or _refuse_unsupported_body()


def _streamed_body_exceeds(limit: int) -> bool:
    """A chunked body has no Content-Length. Werkzeug stops reading it at the limit but
    hands back the first `limit` bytes as if they were all (a CSV import would be cut
    short): read it here, and see whether the client sent more."""
    if (request.content_length is not None or "wsgi.input_terminated" not in request.environ
            or not _is_chunked()):
        return False
    if len(request.get_data(cache=True)) < limit:
        return False
    return bool(request.environ["wsgi.input"].read(1))


NUL_MESSAGE = "Must not contain NUL (\\u0000) characters."
SURROGATE_MESSAGE = "Must not contain unpaired surrogates (\\ud800-\\udfff): not valid Unicode."
SURROGATE = re.compile("[\ud800-\udfff]")
MAX_JSON_DEPTH = 32  # our deepest request body nests 4 levels


def loads_json(data: str | bytes) -> Any:
    """json.loads for request bodies, where whatever is not a document we take raises
    json.JSONDecodeError (the client's 400), never another exception (a 500): bytes that are
    not UTF-8, nesting beyond MAX_JSON_DEPTH (Python's parser, and every walk over the
    document after it, runs out of stack: RecursionError), an integer literal of more than
    the 4,300 digits Python converts (a plain ValueError)."""
    try:
        text = data.decode() if isinstance(data, bytes) else data  # UTF-8, as webargs reads
        document = json.loads(text)
    except json.JSONDecodeError:
        raise
    except (ValueError, RecursionError) as exc:  # (UnicodeDecodeError is a ValueError)
        raise json.JSONDecodeError(f"Not a JSON document: {exc}"[:200], "<body>", 0) from None
    if _nested_beyond(document, MAX_JSON_DEPTH):
        raise json.JSONDecodeError(f"Nested more than {MAX_JSON_DEPTH} levels deep.", text, 0)
    return document


def _nested_beyond(document: object, limit: int) -> bool:
    stack = [(document, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list):
            if depth > limit:
                return True
            items = value.values() if isinstance(value, dict) else value
            stack.extend((item, depth + 1) for item in items if isinstance(item, dict | list))
    return False


class ShopJSONProvider(DefaultJSONProvider):
    """Flask's JSON, reading with loads_json: `request.get_json()` parses bodies with this."""

    sort_keys = False  # answers keep their schemas' order

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return loads_json(s)


def _text_faults(text: str) -> list[str]:
    """Why PostgreSQL (NUL) or any UTF-8 encoder (a lone surrogate, which JSON's \\ud800
    escape can carry) could not take this text."""
    faults = [NUL_MESSAGE] if "\x00" in text else []
    if not text.isascii() and SURROGATE.search(text):
        faults.append(SURROGATE_MESSAGE)
    return faults


# In a JSON document NUL and lone surrogates can only come escaped (\u0000, \ud800...): raw,
# the first is not valid JSON and the others not valid UTF-8
ESCAPED_UNSTORABLE = re.compile(rb"\\u(?:0000|[dD][89abAB][0-9a-fA-F]{2})")
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def replace_unstorable(document: Any, raw: bytes) -> Any:
    """The parsed JSON `document` of `raw` with NUL and lone surrogates in its strings and
    keys replaced by U+FFFD: for a document we must take as sent (a signed Stripe event)
    whose text PostgreSQL or a UTF-8 encoder could not store. The same object when `raw`
    holds none (one search of the bytes)."""
    if not ESCAPED_UNSTORABLE.search(raw):
        return document
    return storable(document)


def storable(value: Any) -> Any:
    """`value` (parsed JSON: dicts, lists, strings...) with NUL and lone surrogates in its
    strings and keys replaced by U+FFFD."""
    if isinstance(value, str):
        return UNSTORABLE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {storable(key): storable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [storable(item) for item in value]
    return value


def _unstorable_fields(value: object, name: str = "") -> set[tuple[str, str]]:
    """(top-level name, why) for each string or key of a JSON document holding text that
    cannot be stored."""
    if isinstance(value, str):
        return {(name, fault) for fault in _text_faults(value)}
    found: set[tuple[str, str]] = set()
    if isinstance(value, dict):
        for key, item in value.items():
            found |= {(name, fault) for fault in _text_faults(key)}
            found |= _unstorable_fields(item, name or key)
    elif isinstance(value, list):
        for item in value:
            found |= _unstorable_fields(item, name)
    return found


def _is_chunked() -> bool:
    return "chunked" in request.headers.get("Transfer-Encoding", "").lower()


def _has_body() -> bool:
    return bool(request.content_length) or _is_chunked()


def _refuse_unstorable_text() -> Response | None:
    """NUL never belongs in text and PostgreSQL cannot store or compare it (the driver
    raises); a lone surrogate is not Unicode and no UTF-8 encoder (the drivers', Argon2's,
    HMAC's) takes it. Refuse them up front, as the client's error, on every database alike.
    (A query string or a path cannot carry a surrogate: werkzeug decodes them replacing
    what is not UTF-8.)"""
    if "\x00" in request.path:
        return problem(404, "not_found", "No such resource.")
    if request.routing_exception is not None:
        return None
    errors: dict[str, list[str]] = {}
    body = _unstorable_fields(request.get_json(silent=True)) if _json_to_check() else set()
    for field, fault in sorted(body):
        errors.setdefault(field or "_body", []).append(fault)
    if request.query_string:
        errors.update({name: [NUL_MESSAGE] for name, value in request.args.items(multi=True)
                       if "\x00" in name or "\x00" in value})
    if errors:
        return problem(422, "validation_error", "The request failed validation; see errors.",
                       errors=errors)
    return None


def _json_to_check() -> bool:
    # A signed webhook is taken as sent: its data (a customer's name...) is not ours to refuse.
    return (_has_body() and request.is_json
            and getattr(_current_view(), "access_level", None) != "webhook")


def request_id(incoming: str) -> str:
    """The client's X-Request-ID if it is a sane one, else 32 new random hex digits."""
    return incoming if REQUEST_ID_PATTERN.match(incoming) else os.urandom(16).hex()


def _assign_request_id() -> None:
    g.request_id = request_id(request.headers.get("X-Request-ID", ""))


SECURITY_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
)
HSTS = ("Strict-Transport-Security", "max-age=31536000; includeSubDomains")


def _finish_response(response: Response) -> Response:
    # One pass over the headers, then appends: Headers.setdefault searched the list once per
    # header and raised KeyError for each missing one (13% of a small JSON answer).
    headers = response.headers
    present = {name.lower() for name, _ in headers}
    if "x-request-id" in present:
        headers.set("X-Request-ID", g.get("request_id", ""))
    else:
        headers.add("X-Request-ID", g.get("request_id", ""))
    production = current_app.config["SHOP_ENV"] == "production"
    for name, value in (*SECURITY_HEADERS, HSTS) if production else SECURITY_HEADERS:
        if name.lower() not in present:
            headers.add(name, value)
    return response


def make_cacheable(response: Response, max_age: int) -> Response:
    """Public catalogue reads: strong ETag over the body, 304 for a matching If-None-Match."""
    if request.method != "GET" or response.status_code != 200:
        return response
    response.add_etag()
    response.headers["Cache-Control"] = f"public, max-age={max_age}"
    # Origin: the CORS headers differ per origin, and shared caches keep these responses.
    response.headers["Vary"] = "Accept, Accept-Encoding, Authorization, Origin"
    return response.make_conditional(request)


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = g.get("request_id", "-") if has_request_context() else "-"
        return True


def configure_logging(app: Flask) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RequestIdFilter())
    if app.config["LOG_JSON"]:
        handler.setFormatter(
            JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s")
        )
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s")
        )
    shop_logger = logging.getLogger("shop")
    shop_logger.handlers[:] = [handler]
    shop_logger.setLevel(app.config["LOG_LEVEL"])
    shop_logger.propagate = False


class DatabaseIntegerConverter(IntegerConverter):
    """`<int:...>` in a route: a value beyond what an INTEGER id column holds is a 404 (no
    such thing can exist) instead of reaching PostgreSQL, which refuses to compare it (a
    500). Raised here: werkzeug would otherwise answer 405 when the path has other methods."""

    def __init__(self, map, fixed_digits=0, min=None, max=2**31 - 1, signed=False):  # noqa: A002
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)

    def to_python(self, value: str) -> int:
        try:
            return super().to_python(value)
        except ValidationError:
            raise NotFound() from None


class NoCookieSessions(SessionInterface):
    """The API authenticates with bearer tokens and keeps nothing in Flask's cookie session:
    opening and saving that session was 3% of a catalogue page's CPU."""

    def open_session(self, app: Flask, request) -> None:
        return None  # Flask puts a NullSession there, which refuses writes

    def save_session(self, app: Flask, session, response: Response) -> None:
        return None


def init_http(app: Flask) -> None:
    app.session_interface = NoCookieSessions()
    app.json = ShopJSONProvider(app)
    app.url_map.converters["int"] = DatabaseIntegerConverter  # before any route is added
    app.before_request(_assign_request_id)
    app.before_request(_check_body)
    app.before_request(_refuse_unstorable_text)
    app.after_request(_finish_response)
