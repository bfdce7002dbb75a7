"""Domain errors and their RFC 9457 problem+json rendering."""

from __future__ import annotations

import contextlib
import logging
from http import HTTPStatus
from typing import Any

from flask import Flask, Response, json
from sqlalchemy import exc as sa_exc
from werkzeug.exceptions import HTTPException

PROBLEM_MIMETYPE = "application/problem+json"
log = logging.getLogger(__name__)

HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    500: "internal_error",
    503: "service_unavailable",
}


class ShopError(Exception):
    """A failure the client can act on. Services raise these; errors.py maps them to HTTP."""

    status: int = 400
    code: str = "bad_request"

    def __init__(
        self,
        detail: str | None = None,
        *,
        code: str | None = None,
        errors: dict | None = None,
        headers: dict | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail or HTTPStatus(self.status).phrase)
        self.detail = detail or HTTPStatus(self.status).phrase
        self.code = code or self.code
        self.errors = errors
        self.headers = headers or {}
        self.extra = extra


class BadRequest(ShopError):
    status, code = 400, "bad_request"


class Unauthorized(ShopError):
    status, code = 401, "unauthorized"


class Forbidden(ShopError):
    status, code = 403, "forbidden"


class NotFound(ShopError):
    status, code = 404, "not_found"


class Conflict(ShopError):
    status, code = 409, "conflict"


class ValidationFailed(ShopError):
    status, code = 422, "validation_error"


class ServiceUnavailable(ShopError):
    status, code = 503, "service_unavailable"


def problem(
    status: int,
    code: str,
    detail: str | None = None,
    *,
    errors: dict | None = None,
    headers: dict | None = None,
    **extra: Any,
) -> Response:
    body: dict[str, Any] = {
        "type": f"urn:problem:shop:{code}",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail or HTTPStatus(status).phrase,
        "code": code,
    }
    if errors:
        body["errors"] = errors
    body.update(extra)
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM_MIMETYPE)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def flatten_validation_messages(messages: dict) -> dict:
    """webargs nests messages under their location ('json', 'query'); clients want fields."""
    flat: dict = {}
    for location, fields in messages.items():
        if isinstance(fields, dict):
            flat.update(fields)
        else:
            flat[location] = fields
    return flat


def http_exception_to_problem(error: HTTPException) -> Response:
    status = error.code or 500
    data = getattr(error, "data", None) or {}
    errors = data.get("errors")
    if errors is None and "messages" in data:
        errors = flatten_validation_messages(data["messages"])
    detail = data.get("message") or error.description
    if status == 422:
        detail = data.get("message") or "The request failed validation; see errors."
    headers = dict(data.get("headers") or {})
    if status == 405 and error.valid_methods:
        headers["Allow"] = ", ".join(error.valid_methods)
    if status == 429 and getattr(error, "retry_after", None):
        headers["Retry-After"] = str(error.retry_after)
    return problem(status, HTTP_CODES.get(status, "error"), detail, errors=errors, headers=headers)


def shop_error_to_problem(error: ShopError) -> Response:
    return problem(
        error.status, error.code, error.detail,
        errors=error.errors, headers=error.headers, **error.extra,
    )


def unexpected_error_to_problem(error: Exception) -> Response:
    log.exception("unhandled error", exc_info=error)
    return problem(500, "internal_error", "Something went wrong on our side.")


# What SQLAlchemy's pool raises when every connection it tried at checkout was found closed
# (each new one killed too before use: seen with connections terminated every 50 ms). The
# class is the generic InvalidRequestError, so only this message counts as an outage.
RECONNECTS_EXHAUSTED = "This connection is closed"


def database_error_to_problem(error: Exception) -> Response:
    """A lost or refused database connection (dropped, restarted, pool exhausted, statement
    cancelled) is the server's transient trouble: 503 so clients retry, not a 500. Other
    driver errors (constraint violations the code did not expect) stay 500s."""
    unavailable = isinstance(error, (sa_exc.OperationalError, sa_exc.TimeoutError)) or (
        isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated
    ) or (type(error) is sa_exc.InvalidRequestError and str(error) == RECONNECTS_EXHAUSTED)
    if not unavailable:
        return unexpected_error_to_problem(error)
    from shop.extensions import db  # errors.py is imported by the extensions' modules

    # (the connection may be gone: the session is discarded at teardown anyway)
    with contextlib.suppress(Exception):
        db.session.rollback()  # after_request hooks may still use the session
    cause = getattr(error, "orig", None) or error
    # The driver's message only: SQLAlchemy's own text carries the statement's parameters.
    first_line = (str(cause).splitlines() or [""])[0][:200]
    log.warning("database unavailable: %s: %s", type(cause).__name__, first_line)
    return problem(503, "database_unavailable",
                   "The database is not reachable right now; try again shortly.",
                   headers={"Retry-After": "2"})


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(ShopError, shop_error_to_problem)
    app.register_error_handler(sa_exc.DBAPIError, database_error_to_problem)
    app.register_error_handler(sa_exc.TimeoutError, database_error_to_problem)
    app.register_error_handler(sa_exc.InvalidRequestError, database_error_to_problem)
    app.register_error_handler(HTTPException, http_exception_to_problem)
    app.register_error_handler(Exception, unexpected_error_to_problem)
