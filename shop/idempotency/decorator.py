"""The `idempotent` view decorator.

With an `Idempotency-Key` header, the first request claims the key by committing an
`in_progress` row in its own short transaction, runs the view, and stores its response
(2xx-4xx except 429) for 24 h. A retry with the same key and body replays that response
with `Idempotent-Replayed: true`; a different body is a 422; a retry while the first is
still running is a 409. A 5xx, a 429 or an exception deletes the claim, so a retry runs
the view again.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from copy import deepcopy
from datetime import timedelta
from functools import wraps
from http import HTTPStatus
from typing import TypeVar

from flask import Response, current_app, request
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import HTTPException

from shop.accounts.auth import current_user
from shop.api import ProblemSchema
from shop.db import utcnow
from shop.errors import (
    PROBLEM_MIMETYPE,
    BadRequest,
    Conflict,
    ShopError,
    ValidationFailed,
    http_exception_to_problem,
    shop_error_to_problem,
)
from shop.extensions import db
from shop.idempotency import services
from shop.idempotency.services import KeyIdentity

F = TypeVar("F", bound=Callable)
log = logging.getLogger(__name__)

KEY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
KEY_PATTERN = re.compile(r"^[!-~]{1,255}$")  # 1-255 visible ASCII characters
# Per-response headers that must not be replayed.
UNSTORED_HEADERS = {
    "content-length", "date", "set-cookie", "x-request-id", "server", "connection",
    "transfer-encoding",
}
KEY_PARAMETER = {
    "in": "header",
    "name": KEY_HEADER,
    "required": False,
    "description": "A unique value (a UUID) that makes retries of this request safe: the "
    "same key with the same body replays the first response (with "
    f"`{REPLAYED_HEADER}: true`) for 24 hours.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"},
}
DOCUMENTED_ERRORS = {
    400: "a malformed Idempotency-Key (`invalid_idempotency_key`)",
    409: "a request with this Idempotency-Key is still in progress (`idempotency_key_in_use`)",
    422: "this Idempotency-Key was used with a different body (`idempotency_key_mismatch`)",
}


def idempotent(view: F | None = None) -> F:
    """Honour the Idempotency-Key header on this view (usable as @idempotent or @idempotent())."""
    if view is None:
        return idempotent  # type: ignore[return-value]

    @wraps(view)
    def wrapper(*args, **kwargs):
        key = request.headers.get(KEY_HEADER)
        if key is None:
            return view(*args, **kwargs)
        if not KEY_PATTERN.match(key):
            raise BadRequest(
                f"{KEY_HEADER} must be 1 to 255 visible ASCII characters.",
                code="invalid_idempotency_key",
            )
        user = current_user()
        identity = KeyIdentity.of(
            scope=str(user.id) if user else "anon", method=request.method,
            rule=request.url_rule.rule if request.url_rule else "", path=request.path, key=key,
        )
        claimed = _claim(identity, services.fingerprint(request.get_data()))
        if isinstance(claimed, Response):
            return claimed
        return _run_and_record(claimed, view, args, kwargs)

    _document(wrapper)
    return wrapper  # type: ignore[return-value]


def _claim(identity: KeyIdentity, request_fingerprint: str) -> int | Response:
    """The id of our committed in_progress row, or the response to give instead."""
    session = db.session
    ttl = timedelta(seconds=current_app.config["IDEMPOTENCY_KEY_TTL_SECONDS"])
    for _attempt in range(3):
        now = utcnow()
        try:
            row = services.add_in_progress(
                session=session, identity=identity, request_fingerprint=request_fingerprint,
                now=now, ttl=ttl,
            )
            row_id = row.id
            session.commit()  # visible to concurrent duplicates before the view starts
            return row_id
        except IntegrityError:
            session.rollback()
        existing = services.find(session=session, identity=identity)
        if existing is None:
            continue  # released by a failed first attempt in the meantime: claim again
        if services.is_dead(existing, now):
            services.discard(session=session, row_id=existing.id)
            session.commit()
            continue
        if existing.status == "in_progress":
            break
        if existing.request_fingerprint != request_fingerprint:
            session.rollback()
            raise ValidationFailed(
                f"This {KEY_HEADER} was already used with a different request body.",
                code="idempotency_key_mismatch",
            )
        replay = _replay(existing)
        session.rollback()
        return replay
    session.rollback()
    raise Conflict(
        f"A request with this {KEY_HEADER} is still in progress; retry shortly.",
        code="idempotency_key_in_use",
    )


def _is_stored(status: int) -> bool:
    """Server errors and rate limiting say nothing lasting about the request: not kept."""
    return status < 500 and status != 429


def _run_and_record(row_id: int, view: Callable, args: tuple, kwargs: dict) -> Response:
    try:
        response = current_app.make_response(view(*args, **kwargs))
    except ShopError as exc:
        if not _is_stored(exc.status):
            _release(row_id)
            raise
        response = shop_error_to_problem(exc)
    except HTTPException as exc:
        if not _is_stored(exc.code or 500):
            _release(row_id)
            raise
        response = http_exception_to_problem(exc)
    except BaseException:
        _release(row_id)
        raise
    if not _is_stored(response.status_code):
        _release(row_id)
        return response
    if response.status_code >= 400:
        db.session.rollback()  # whatever a failed view flushed is not kept
    headers = [
        [name, value] for name, value in response.headers.items()
        if name.lower() not in UNSTORED_HEADERS
    ]
    services.complete(
        session=db.session, row_id=row_id, status=response.status_code,
        body=response.get_data(as_text=True), headers=headers,
    )
    db.session.commit()
    return response


def _release(row_id: int) -> None:
    """Forget the claim so that a retry runs the view again."""
    session = db.session
    try:
        session.rollback()
        services.discard(session=session, row_id=row_id)
        session.commit()
    except Exception:
        session.rollback()
        log.exception("could not release idempotency key row %s; it expires on its own", row_id)


def _replay(row) -> Response:
    response = current_app.response_class(
        row.response_body, status=row.response_status,
        headers=[tuple(pair) for pair in row.response_headers or []],
    )
    response.headers[REPLAYED_HEADER] = "true"
    return response


def _document(wrapper: Callable) -> None:
    """Add the header parameter and its error responses to the operation's OpenAPI doc."""
    apidoc = deepcopy(getattr(wrapper, "_apidoc", {}))
    arguments = apidoc.setdefault("arguments", {})
    arguments.setdefault("parameters", []).append(deepcopy(KEY_PARAMETER))
    arguments.setdefault("responses", {})
    responses = apidoc.setdefault("response", {}).setdefault("responses", {})
    for status, note in DOCUMENTED_ERRORS.items():
        entries = responses.setdefault(status, [])
        described = [entry for entry in entries if isinstance(entry, Mapping)]
        for entry in described:  # the view documents this status too: extend its text
            text = entry.get("description") or HTTPStatus(status).phrase
            entry["description"] = f"{text}; or {note}"
        if not described:
            entries.append({
                "description": f"{HTTPStatus(status).phrase}, or {note}",
                "schema": ProblemSchema, "content_type": PROBLEM_MIMETYPE,
            })
    wrapper._apidoc = apidoc  # type: ignore[attr-defined]
