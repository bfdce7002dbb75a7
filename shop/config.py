"""Settings, read from the environment in one place."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from urllib.parse import urlsplit

DEFAULT_SECRET_KEY = "dev-insecure-secret-key-change-me"
DEFAULT_VOUCHER_KEY = "dev-insecure-voucher-key-change-me"

log = logging.getLogger(__name__)


class ConfigError(RuntimeError):
    """The environment describes a configuration the shop refuses to run with."""


def _bool(value: str | None, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _int(env: dict[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from exc


def _int_at_least(env: dict[str, str], name: str, default: int, *, minimum: int) -> int:
    value = _int(env, name, default)
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {value}")
    return value


def _list(value: str | None) -> list[str]:
    return [item.strip() for item in (value or "").split(",") if item.strip()]


def _base_url(env: dict[str, str], name: str) -> str:
    """An http(s) URL that paths are appended to, without its trailing slash; "" when unset."""
    raw = env.get(name, "").strip()
    if not raw:
        return ""
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ConfigError(f"{name} must be an http(s) URL with no query, got {raw!r}")
    return raw.rstrip("/")


def default_sqlite_url(instance_path: str) -> str:
    return "sqlite:///" + str(Path(instance_path) / "shop.sqlite3")


def from_environment(instance_path: str, env: dict[str, str] | None = None) -> dict:
    """Build the Flask config mapping from environment variables."""
    env = dict(os.environ if env is None else env)
    shop_env = env.get("SHOP_ENV", "development")
    if shop_env not in {"development", "production", "test"}:
        raise ConfigError(f"SHOP_ENV must be development or production, got {shop_env!r}")
    return {
        "SHOP_ENV": shop_env,
        "SECRET_KEY": env.get("SECRET_KEY", DEFAULT_SECRET_KEY),
        # earlier SECRET_KEYs, still accepted on signed links (Flask's own setting's name)
        "SECRET_KEY_FALLBACKS": _list(env.get("SECRET_KEY_FALLBACKS")),
        "SQLALCHEMY_DATABASE_URI": env.get("DATABASE_URL") or default_sqlite_url(instance_path),
        "DATABASE_POOL_SIZE": _int(env, "DATABASE_POOL_SIZE", 16),  # per process (PostgreSQL)
        "STRIPE_SECRET_KEY": env.get("STRIPE_SECRET_KEY", ""),
        "STRIPE_PUBLISHABLE_KEY": env.get("STRIPE_PUBLISHABLE_KEY", ""),
        "STRIPE_WEBHOOK_SECRET": env.get("STRIPE_WEBHOOK_SECRET", ""),
        "STRIPE_API_BASE": env.get("STRIPE_API_BASE", ""),
        "STRIPE_WEBHOOK_TOLERANCE": _int(env, "STRIPE_WEBHOOK_TOLERANCE", 300),
        "STRIPE_MAX_RETRIES": _int(env, "STRIPE_MAX_RETRIES", 2),
        "STRIPE_TIMEOUT_SECONDS": _int(env, "STRIPE_TIMEOUT_SECONDS", 20),
        "STRIPE_EPHEMERAL_KEY_VERSION": env.get("STRIPE_EPHEMERAL_KEY_VERSION", ""),
        "STRIPE_CUSTOMER_SYNC_EVERY_SECONDS": _int(env, "STRIPE_CUSTOMER_SYNC_EVERY_SECONDS", 10),
        "CHECKOUT_ALLOWED_ORIGINS": _list(env.get("CHECKOUT_ALLOWED_ORIGINS")),
        "RECONCILE_AFTER_SECONDS": _int(env, "RECONCILE_AFTER_SECONDS", 120),
        "ORDER_SYNC_RATE_LIMIT": env.get("ORDER_SYNC_RATE_LIMIT", "30 per minute"),  # per IP
        "ORDER_CANCEL_RATE_LIMIT": env.get("ORDER_CANCEL_RATE_LIMIT", "10 per minute"),  # per IP
        "RETURN_RATE_LIMIT": env.get("RETURN_RATE_LIMIT", "10 per hour"),  # per IP
        "REVIEW_RATE_LIMIT": env.get("REVIEW_RATE_LIMIT", "10 per hour"),  # per IP
        "PROMOTION_RATE_LIMIT": env.get("PROMOTION_RATE_LIMIT", "20 per minute"),  # per IP
        "ENQUIRY_RATE_LIMIT": env.get("ENQUIRY_RATE_LIMIT", "5 per hour;20 per day"),  # per IP
        "ENQUIRY_EMAIL_RATE_LIMIT": env.get("ENQUIRY_EMAIL_RATE_LIMIT", "5 per day"),
        "ENQUIRY_RETENTION_DAYS": _int(env, "ENQUIRY_RETENTION_DAYS", 365),
        "BACK_IN_STOCK_RATE_LIMIT": env.get("BACK_IN_STOCK_RATE_LIMIT",
                                            "10 per minute;100 per day"),  # per IP
        "BACK_IN_STOCK_EMAIL_RATE_LIMIT": env.get("BACK_IN_STOCK_EMAIL_RATE_LIMIT",
                                                  "20 per day"),  # per address asked for
        "BACK_IN_STOCK_SEND_EVERY_SECONDS": _int(env, "BACK_IN_STOCK_SEND_EVERY_SECONDS", 60),
        # the storefront's product page, {slug} standing for the product's slug
        "PRODUCT_URL": env.get("PRODUCT_URL", ""),
        "REDIS_URL": env.get("REDIS_URL", ""),
        "RATELIMIT_KEY_PREFIX": env.get("RATELIMIT_KEY_PREFIX", ""),  # shops sharing a Redis
        "SMTP_URL": env.get("SMTP_URL", ""),
        "MAIL_FROM": env.get("MAIL_FROM", "GLOW Clinic <shop@aestheticsglow.example>"),
        "SMTP_TIMEOUT_SECONDS": _int(env, "SMTP_TIMEOUT_SECONDS", 30),
        "OUTBOX_MAX_ATTEMPTS": _int(env, "OUTBOX_MAX_ATTEMPTS", 10),
        "OUTBOX_BACKOFF_SECONDS": _int(env, "OUTBOX_BACKOFF_SECONDS", 30),
        "OUTBOX_BACKOFF_MAX_SECONDS": _int(env, "OUTBOX_BACKOFF_MAX_SECONDS", 3600),
        "OUTBOX_BATCH_SIZE": _int(env, "OUTBOX_BATCH_SIZE", 20),
        "OUTBOX_SEND_EVERY_SECONDS": _int(env, "OUTBOX_SEND_EVERY_SECONDS", 2),
        "WORKER_POLL_SECONDS": _int(env, "WORKER_POLL_SECONDS", 1),
        "IDEMPOTENCY_KEY_TTL_SECONDS": _int(env, "IDEMPOTENCY_KEY_TTL_SECONDS", 24 * 3600),
        "SHOP_CURRENCY": env.get("SHOP_CURRENCY", "GBP").upper(),
        "VOUCHER_KEY": env.get("VOUCHER_KEY", DEFAULT_VOUCHER_KEY),
        # earlier VOUCHER_KEYs, tried after it until `flask keys rotate` has re-keyed
        "VOUCHER_KEY_FALLBACKS": _list(env.get("VOUCHER_KEY_FALLBACKS")),
        "ACCESS_TOKEN_SECONDS": _int(env, "ACCESS_TOKEN_SECONDS", 15 * 60),
        "REFRESH_TOKEN_SECONDS": _int(env, "REFRESH_TOKEN_SECONDS", 30 * 24 * 3600),
        "PASSWORD_HASH_TIME_COST": _int(env, "PASSWORD_HASH_TIME_COST", 3),
        "PASSWORD_HASH_MEMORY_COST": _int(env, "PASSWORD_HASH_MEMORY_COST", 64 * 1024),  # KiB
        "PASSWORD_HASH_PARALLELISM": _int(env, "PASSWORD_HASH_PARALLELISM", 4),
        "LOGIN_RATE_LIMIT": env.get("LOGIN_RATE_LIMIT", "10 per minute"),  # per IP
        "LOGIN_EMAIL_RATE_LIMIT": env.get("LOGIN_EMAIL_RATE_LIMIT", "5 per minute;20 per hour"),
        "REGISTER_RATE_LIMIT": env.get("REGISTER_RATE_LIMIT", "5 per minute;50 per day"),
        "REGISTER_EMAIL_RATE_LIMIT": env.get("REGISTER_EMAIL_RATE_LIMIT", "3 per hour"),
        "REFRESH_RATE_LIMIT": env.get("REFRESH_RATE_LIMIT", "30 per minute"),
        # per account: POST /me/two-factor/* (guessing codes with a stolen access token)
        "TWO_FACTOR_RATE_LIMIT": env.get("TWO_FACTOR_RATE_LIMIT", "5 per minute;20 per hour"),
        # staff and admin endpoints refuse (403) staff accounts without two-factor on
        "STAFF_TWO_FACTOR_REQUIRED": _bool(env.get("STAFF_TWO_FACTOR_REQUIRED")),
        "PASSWORD_RESET_RATE_LIMIT": env.get("PASSWORD_RESET_RATE_LIMIT",
                                             "5 per minute;50 per day"),  # per IP
        "PASSWORD_RESET_EMAIL_RATE_LIMIT": env.get("PASSWORD_RESET_EMAIL_RATE_LIMIT",
                                                   "3 per hour"),
        "PASSWORD_RESET_CONFIRM_RATE_LIMIT": env.get("PASSWORD_RESET_CONFIRM_RATE_LIMIT",
                                                     "10 per minute"),  # per IP
        "PASSWORD_RESET_MINUTES": _int(env, "PASSWORD_RESET_MINUTES", 60),
        # the storefront's reset page, {token} standing for the token (else ?token= is added)
        "PASSWORD_RESET_URL": env.get("PASSWORD_RESET_URL", ""),
        "PASSWORD_RESET_SEND_EVERY_SECONDS": _int(env, "PASSWORD_RESET_SEND_EVERY_SECONDS", 2),
        "EMAIL_CHANGE_RATE_LIMIT": env.get("EMAIL_CHANGE_RATE_LIMIT",
                                           "5 per minute;20 per day"),  # per IP
        "EMAIL_CHANGE_CONFIRM_RATE_LIMIT": env.get("EMAIL_CHANGE_CONFIRM_RATE_LIMIT",
                                                   "10 per minute"),  # per IP
        "EMAIL_CHANGE_MINUTES": _int(env, "EMAIL_CHANGE_MINUTES", 60),
        "EMAIL_VERIFY_DAYS": _int(env, "EMAIL_VERIFY_DAYS", 7),
        # the storefront's page confirming an address, {token} standing for the token
        "EMAIL_VERIFY_URL": env.get("EMAIL_VERIFY_URL", ""),
        "MARKETING_UNSUBSCRIBE_URL": env.get("MARKETING_UNSUBSCRIBE_URL", ""),
        "UNSUBSCRIBE_RATE_LIMIT": env.get("UNSUBSCRIBE_RATE_LIMIT", "10 per minute"),  # per IP
        # per IP too, but a mail provider sends all its users' one-click unsubscribes from a few
        # addresses, and the signed token cannot be guessed: this only bounds the load
        "ONE_CLICK_UNSUBSCRIBE_RATE_LIMIT": env.get("ONE_CLICK_UNSUBSCRIBE_RATE_LIMIT",
                                                    "600 per minute"),
        # where mail providers reach this API (https://api.clinic.example): marketing email
        # carries a one-click List-Unsubscribe URL under it
        "PUBLIC_API_URL": _base_url(env, "PUBLIC_API_URL"),
        "EMAIL_VERIFY_RATE_LIMIT": env.get("EMAIL_VERIFY_RATE_LIMIT",
                                           "3 per hour;10 per day"),  # per IP
        "EMAIL_VERIFY_CONFIRM_RATE_LIMIT": env.get("EMAIL_VERIFY_CONFIRM_RATE_LIMIT",
                                                   "10 per minute"),  # per IP
        "EMAIL_CHANGE_URL": env.get("EMAIL_CHANGE_URL", ""),  # as PASSWORD_RESET_URL
        "CORS_ORIGINS": _list(env.get("CORS_ORIGINS")),
        "TRUSTED_PROXY_COUNT": _int(env, "TRUSTED_PROXY_COUNT", 0),
        "MAX_CONTENT_LENGTH": _int(env, "MAX_CONTENT_LENGTH", 1024 * 1024),
        "CATALOGUE_CACHE_SECONDS": _int(env, "CATALOGUE_CACHE_SECONDS", 60),
        "CATALOGUE_RESPONSE_CACHE_SECONDS": _int(env, "CATALOGUE_RESPONSE_CACHE_SECONDS", 5),
        "CATALOGUE_VERSION_CHECK_MS": _int(env, "CATALOGUE_VERSION_CHECK_MS", 200),
        # at least the largest page (per_page max 100): a page must end before the count does
        "CATALOGUE_TOTAL_LIMIT": _int_at_least(env, "CATALOGUE_TOTAL_LIMIT", 1000, minimum=100),
        "RESERVATION_MINUTES": _int(env, "RESERVATION_MINUTES", 15),
        "CART_LINE_MAX_QUANTITY": _int(env, "CART_LINE_MAX_QUANTITY", 10),
        "CART_MAX_LINES": _int(env, "CART_MAX_LINES", 50),
        "WISHLIST_MAX_ITEMS": _int(env, "WISHLIST_MAX_ITEMS", 200),  # per customer
        "FREE_SHIPPING_THRESHOLD": _int(env, "FREE_SHIPPING_THRESHOLD", 4000),
        "CART_RETENTION_DAYS": _int(env, "CART_RETENTION_DAYS", 30),
        # one email about a signed-in customer's cart left this long (0: never)
        "CART_REMINDER_AFTER_HOURS": _int_at_least(env, "CART_REMINDER_AFTER_HOURS", 24,
                                                   minimum=0),
        "CART_REMINDER_MIN_GAP_HOURS": _int_at_least(env, "CART_REMINDER_MIN_GAP_HOURS", 72,
                                                     minimum=0),
        "CART_REMINDER_EVERY_SECONDS": _int(env, "CART_REMINDER_EVERY_SECONDS", 300),
        # the storefront's cart page, {cart_id} standing for the cart's id
        "CART_URL": env.get("CART_URL", ""),
        # the storefront's order page, {order_id} and {token} (a guest's signed link) standing in
        "ORDER_URL": env.get("ORDER_URL", ""),
        "ORDER_LINK_DAYS": _int_at_least(env, "ORDER_LINK_DAYS", 120, minimum=1),
        "ORDER_LOOKUP_RATE_LIMIT": env.get("ORDER_LOOKUP_RATE_LIMIT",
                                           "5 per minute;30 per day"),  # per IP
        "VAT_RATE_PERCENT": _int(env, "VAT_RATE_PERCENT", 20),
        # on VAT receipts (GET /orders/{id}/receipt)
        "SELLER_NAME": env.get("SELLER_NAME", "GLOW Clinic"),
        "SELLER_ADDRESS": env.get("SELLER_ADDRESS", "London"),
        "VAT_REGISTRATION_NUMBER": env.get("VAT_REGISTRATION_NUMBER", ""),
        "RETURN_WINDOW_DAYS": _int(env, "RETURN_WINDOW_DAYS", 14),
        "RETURN_ADDRESS": env.get("RETURN_ADDRESS", ""),  # empty: SELLER_ADDRESS
        "VOUCHER_VALIDITY_MONTHS": _int(env, "VOUCHER_VALIDITY_MONTHS", 12),
        "VOUCHER_LOOKUP_RATE_LIMIT": env.get("VOUCHER_LOOKUP_RATE_LIMIT", "30 per minute"),
        "MONEY_VOUCHER_MIN": _int(env, "MONEY_VOUCHER_MIN", 1000),
        "MONEY_VOUCHER_MAX": _int(env, "MONEY_VOUCHER_MAX", 50000),
        "LOG_JSON": _bool(env.get("LOG_JSON"), default=shop_env == "production"),
        "LOG_LEVEL": env.get("LOG_LEVEL", "INFO").upper(),
        "STAFF_ALERT_EMAIL": env.get("STAFF_ALERT_EMAIL", ""),
        "LOW_STOCK_ALERT_EVERY_SECONDS": _int(env, "LOW_STOCK_ALERT_EVERY_SECONDS", 300),
    }


def check_production(config: dict) -> None:
    """Refuse unsafe production settings; warn about merely unwise ones."""
    if config["SHOP_ENV"] != "production":
        return
    problems = []
    if config["SECRET_KEY"] in ("", DEFAULT_SECRET_KEY):
        problems.append("SECRET_KEY is unset or the development default")
    if config["VOUCHER_KEY"] in ("", DEFAULT_VOUCHER_KEY):
        problems.append("VOUCHER_KEY is unset or the development default")
    if not config["STRIPE_WEBHOOK_SECRET"]:
        problems.append("STRIPE_WEBHOOK_SECRET is missing")
    for name, default in (("SECRET_KEY_FALLBACKS", DEFAULT_SECRET_KEY),
                          ("VOUCHER_KEY_FALLBACKS", DEFAULT_VOUCHER_KEY)):
        if default in config[name]:
            problems.append(f"{name} lists the development default")
    if problems:
        raise ConfigError("refusing to start in production: " + "; ".join(problems))
    if config["PUBLIC_API_URL"] and not config["PUBLIC_API_URL"].startswith("https://"):
        log.warning("PUBLIC_API_URL is not https: mail providers only unsubscribe with one "
                    "click (RFC 8058) over https")
    if not config["STAFF_TWO_FACTOR_REQUIRED"]:
        log.warning("STAFF_TWO_FACTOR_REQUIRED is off: a staff password alone reaches refunds "
                    "and customers' data; turn it on once the staff have enrolled")
    if config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        log.warning(
            "!!! PRODUCTION IS RUNNING ON SQLITE: use PostgreSQL (DATABASE_URL) for "
            "concurrent checkouts, stock locking and more than one app server !!!"
        )
