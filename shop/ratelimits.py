"""Rate limits: a Flask-Limiter whose settings belong to each app, and named limits that
routes put on themselves.

Limits are settings read at request time (LOGIN_RATE_LIMIT="10 per minute", several
separated by ";"), so an environment variable changes them without code. Counters live in
RATELIMIT_STORAGE_URI: memory by default, Redis when REDIS_URL is set, which shares them
between processes and machines. A refused request is a 429 problem+json with Retry-After.

Usage in a route module (below `@access(...)`):

    @blp.route("/vouchers/<code>")
    @access("public")
    @ratelimits.per_ip("VOUCHER_LOOKUP_RATE_LIMIT")
    def lookup_voucher(code): ...
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, current_app, has_app_context, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

# Everything Limiter.init_app derives from an app's config. Flask-Limiter keeps these on the
# (single, module-level) extension object, so a second app in the same process (tests, live
# servers) would silently switch the first one's storage, key prefix or on/off switch. Here
# they live in each app's `extensions` instead; the route limits themselves stay shared.
_PER_APP_ATTRIBUTES = (
    "enabled", "_storage", "_limiter", "_storage_dead", "_fallback_limiter",
    "_fallback_storage", "_in_memory_fallback", "_in_memory_fallback_enabled",
    "_key_prefix", "_strategy", "_storage_uri", "_storage_options", "_headers_enabled",
    "_header_mapping", "_retry_after", "_swallow_errors", "_fail_on_first_breach",
    "_on_breach", "_on_meta_breach", "_request_identifier", "_meta_limits",
    "_default_limits_per_method", "_default_limits_exempt_when", "_default_limits_deduct_when",
    "_default_limits_cost", "_application_limits_per_method",
    "_application_limits_exempt_when", "_application_limits_deduct_when",
    "_application_limits_cost",
)
_STATE_KEY = "shop_limiter_state"


class ShopLimiter(Limiter):
    """Flask-Limiter with per-app configuration and state (see _PER_APP_ATTRIBUTES)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._unbound_state: dict[str, Any] = {}  # per-app attributes until init_app
        super().__init__(*args, **kwargs)
        self._initial_state = dict(self._unbound_state)

    def _state(self) -> dict[str, Any]:
        if has_app_context():
            state = current_app.extensions.get(_STATE_KEY)
            if state is not None:
                return state
        return self._unbound_state

    def init_app(self, app: Flask) -> None:
        app.extensions[_STATE_KEY] = {
            name: copy.copy(value) for name, value in self._initial_state.items()
        }
        # Registered before Flask-Limiter's own hook, so it runs after it (Flask runs
        # after_request functions in reverse).
        app.after_request(_retry_after_only_when_refused)
        with app.app_context():
            super().init_app(app)

    def _check_request_limit(self, callable_name: str | None = None,
                             in_middleware: bool = True) -> None:
        # Flask-Limiter runs this before every request, where it enforces only application-wide,
        # default and blueprint limits. The shop sets none of those (each route carries its
        # own, checked when the route runs), and finding that there was nothing to check cost
        # 0.4 M instructions per request: 2.5% of a checkout, 15% of a small JSON answer.
        if in_middleware and not self._limits_before_routes():
            return
        super()._check_request_limit(callable_name, in_middleware)

    def _limits_before_routes(self) -> bool:
        manager = self.limit_manager
        return bool(manager.application_limits or manager.default_limits
                    or manager._blueprint_limits)


def _retry_after_only_when_refused(response: Response) -> Response:
    """Flask-Limiter puts Retry-After on every response; it only means something on a 429
    or 503 (RFC 9110 10.2.3). The X-RateLimit-* headers stay."""
    if response.status_code not in (429, 503):
        response.headers.pop("Retry-After", None)
    return response


def _per_app_attribute(name: str) -> property:
    def get(self: ShopLimiter) -> Any:
        try:
            return self._state()[name]
        except KeyError:
            raise AttributeError(name) from None

    def set_(self: ShopLimiter, value: Any) -> None:
        self._state()[name] = value

    return property(get, set_)


for _name in _PER_APP_ATTRIBUTES:
    setattr(ShopLimiter, _name, _per_app_attribute(_name))
del _name


def configured(setting: str) -> Callable[[], str]:
    """The limit string of a setting (shop/config.py), read per request."""

    def limit_value() -> str:
        return current_app.config[setting]

    return limit_value


def client_ip() -> str:
    return get_remote_address() or "unknown"


def json_field_key(field: str) -> Callable[[], str]:
    """Key a limit by a field of the JSON body (an email), hashed: keys can end up in logs."""

    def key() -> str:
        body = request.get_json(silent=True)
        value = body.get(field) if isinstance(body, dict) else None
        normalised = value.strip().lower() if isinstance(value, str) else ""
        return f"{field}:" + hashlib.sha256(normalised.encode()).hexdigest()[:32]

    return key


def per_ip(setting: str, *, methods: list[str] | None = None) -> Callable:
    """Limit a view per client IP address with the limit named by `setting`."""
    from shop.extensions import limiter

    return limiter.limit(
        configured(setting), key_func=client_ip, scope="ip", methods=methods,
        error_message="Too many requests from this address; try again later.",
    )


def per_json_field(setting: str, field: str) -> Callable:
    """Limit a view per value of a JSON body field (e.g. the email signing in)."""
    from shop.extensions import limiter

    return limiter.limit(
        configured(setting), key_func=json_field_key(field), scope=field,
        error_message=f"Too many attempts for this {field}; try again later.",
    )


def per_account(setting: str) -> Callable:
    """Limit a signed-in view per account (below `@access(...)`, which identifies it): a
    stolen access token is limited however many addresses it is used from."""
    from shop.extensions import limiter

    return limiter.limit(
        configured(setting), key_func=_account_key, scope="account",
        error_message="Too many attempts for this account; try again later.",
    )


def _account_key() -> str:
    from shop.accounts.auth import current_user

    user = current_user()
    return f"account:{user.id if user else 'none'}"
