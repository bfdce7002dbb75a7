"""Cross-cutting HTTP behaviour: request ids, logging, security headers, body types, caching."""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Callable
from typing import TypeVar

from flask import Flask, Response, current_app, g, has_request_context, request
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


def _nul_fields(value: object, name: str = "") -> list[str]:
    """The top-level names of a JSON document under which a string holds a NUL."""
    if isinstance(value, str):
        return [name] if "\x00" in value else []
    if isinstance(value, dict):
        found = [name] if any("\x00" in key for key in value) else []
        for key, item in value.items():
            found += _nul_fields(item, name or key)
        return found
    if isinstance(value, list):
        return [found for item in value for found in _nul_fields(item, name)]
    return []


def _is_chunked() -> bool:
    return "chunked" in request.headers.get("Transfer-Encoding", "").lower()


def _has_body() -> bool:
    return bool(request.content_length) or _is_chunked()


def _refuse_nul_characters() -> Response | None:
    """NUL never belongs in text and PostgreSQL cannot store or compare it (the driver
    raises): refuse it up front, as the client's error, on every database alike."""
    if "\x00" in request.path:
        return problem(404, "not_found", "No such resource.")
    if request.routing_exception is not None:
        return None
    query = sorted({name for name, value in request.args.items(multi=True)
                    if "\x00" in name or "\x00" in value}) if request.query_string else []
    body = _nul_fields(request.get_json(silent=True)) if _json_to_check() else []
    fields = sorted({field or "_body" for field in body}) + query
    if fields:
        return problem(422, "validation_error", "The request failed validation; see errors.",
                       errors={field: [NUL_MESSAGE] for field in fields})
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
    app.url_map.converters["int"] = DatabaseIntegerConverter  # before any route is added
    app.before_request(_assign_request_id)
    app.before_request(_check_body)
    app.before_request(_refuse_nul_characters)
    app.after_request(_finish_response)
