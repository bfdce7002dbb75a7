"""Bearer-token authentication and the access-level decorators every route declares.

Access levels: `public` (anyone), `optional` (anyone; a valid token identifies the user),
`customer`, `staff`, `admin` (each includes the ones after it in ROLE_RANK order), and
`webhook` (authenticated by a signature, not a token). The authorisation-matrix test walks
the URL map and fails on any route that declares none. With STAFF_TWO_FACTOR_REQUIRED, the
staff and admin levels also refuse an account without two-factor sign-in (read from the user
row already loaded: no query).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from copy import deepcopy
from datetime import timedelta
from functools import wraps
from typing import TypeVar

from flask import current_app, g, request
from flask_smorest import Blueprint
from sqlalchemy import select
from sqlalchemy.orm import Session

from shop.accounts.models import AuthToken, TokenFamily, User
from shop.db import as_utc, utcnow
from shop.errors import Forbidden, Unauthorized

F = TypeVar("F", bound=Callable)
ROLE_RANK = {"customer": 1, "staff": 2, "admin": 3}
ACCESS_LEVELS = ("public", "optional", "webhook", *ROLE_RANK)
BEARER_SECURITY = [{"bearerAuth": []}]


def hash_token(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def new_token_value(kind: str) -> str:
    return f"{kind[:2]}_{secrets.token_urlsafe(32)}"


def issue_token(*, session: Session, family: TokenFamily, kind: str, lifetime: timedelta) -> str:
    value = new_token_value(kind)
    session.add(AuthToken(
        family=family, kind=kind, token_hash=hash_token(value), expires_at=utcnow() + lifetime,
    ))
    return value


def user_for_access_token(*, session: Session, value: str) -> User | None:
    row = session.execute(
        select(AuthToken, TokenFamily, User)
        .join(AuthToken.family)
        .join(TokenFamily.user)
        .where(AuthToken.token_hash == hash_token(value), AuthToken.kind == "access")
    ).one_or_none()
    if row is None:
        return None
    token, family, user = row
    if family.revoked_at or not user.is_active or as_utc(token.expires_at) <= utcnow():
        return None
    g.token_family_id = family.id
    return user


def _bearer_value() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def _resolve() -> tuple[User | None, bool]:
    """(user, whether a bearer token was presented), once per request. Cached on the request,
    not on `g`: an app context can outlive a request (the test client reuses the test's)."""
    resolved = getattr(request, "_shop_auth", None)
    if resolved is None:
        from shop.extensions import db

        value = _bearer_value()
        user = user_for_access_token(session=db.session, value=value) if value else None
        resolved = request._shop_auth = (user, value is not None)  # type: ignore[attr-defined]
    return resolved


def current_user() -> User | None:
    """The authenticated user of this request, or None."""
    return _resolve()[0]


def lock_signed_in_account(*, session: Session, user: User) -> None:
    """Hold the signed-in account's row until commit, so one account's writes take turns,
    read it afresh (a change is compared with what the row holds now, not with what it held
    when the request signed in), and refuse (401) if it was deleted while this request
    waited for it. NO KEY UPDATE: rows referring to the account (orders, tokens) can still be
    written meanwhile."""
    session.refresh(user, with_for_update={"key_share": True})  # as it is now: compare to it
    if user.deleted_at is not None:
        raise Unauthorized("This account has been deleted.", code="invalid_token",
                           headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})


def _authenticate(level: str) -> None:
    user, bearer_presented = _resolve()
    if level == "optional":
        if bearer_presented and user is None:
            raise Unauthorized("The access token is invalid or expired.", code="invalid_token",
                               headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
        return
    if user is None:
        code = "invalid_token" if bearer_presented else "authentication_required"
        raise Unauthorized("Sign in with a valid bearer token.", code=code,
                           headers={"WWW-Authenticate": "Bearer"})
    if ROLE_RANK[user.role] < ROLE_RANK[level]:
        raise Forbidden(f"This needs the {level} role.", code="insufficient_role")
    if (level != "customer" and not user.two_factor_enabled
            and current_app.config["STAFF_TWO_FACTOR_REQUIRED"]):
        raise Forbidden("Turn on two-factor sign-in (POST /me/two-factor/setup) to use the "
                        "staff tools.", code="two_factor_required")


def access(level: str) -> Callable[[F], F]:
    """Declare (and enforce) who may call a view. Put it directly under `@blp.route(...)`,
    above the other decorators, so nothing (argument parsing, rate limits) runs first."""
    if level not in ACCESS_LEVELS:
        raise ValueError(f"unknown access level {level!r}")

    def decorate(view: F) -> F:
        @wraps(view)
        def guarded(*args, **kwargs):
            if level not in ("public", "webhook"):
                _authenticate(level)
            return view(*args, **kwargs)

        if level in ROLE_RANK:
            guarded = Blueprint.doc(security=BEARER_SECURITY)(guarded)
            _document_errors(guarded, {401: "UNAUTHORIZED", 403: "FORBIDDEN"}
                             if level != "customer" else {401: "UNAUTHORIZED"})
        elif level == "optional":
            guarded = Blueprint.doc(security=[{}, *BEARER_SECURITY])(guarded)
            _document_errors(guarded, {401: "UNAUTHORIZED"})
        guarded.access_level = level  # type: ignore[attr-defined]
        return guarded  # type: ignore[return-value]

    return decorate


def _document_errors(view: Callable, responses: dict[int, str]) -> None:
    """Add the 401/403 responses to a view's OpenAPI operation, as `@blp.alt_response` would,
    unless the view documents that status itself (its description is more precise)."""
    apidoc = deepcopy(getattr(view, "_apidoc", {}))
    documented = apidoc.setdefault("response", {}).setdefault("responses", {})
    for status, reference in responses.items():
        if status not in documented and str(status) not in documented:
            documented[status] = [reference]
    view._apidoc = apidoc  # type: ignore[attr-defined]


def access_lifetime() -> timedelta:
    return timedelta(seconds=current_app.config["ACCESS_TOKEN_SECONDS"])


def refresh_lifetime() -> timedelta:
    return timedelta(seconds=current_app.config["REFRESH_TOKEN_SECONDS"])
