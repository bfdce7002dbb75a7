"""The shop: a headless e-commerce API for skincare clinics."""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from shop import config as shop_config
from shop.db import (
    attach_reader_engine,
    discard_closed_connections,
    install_sqlite_behaviour,
    plan_with_values,
    track_writes,
)
from shop.errors import register_error_handlers
from shop.extensions import api, cors, db, limiter, migrate
from shop.http import configure_logging, init_http
from shop.payments.client import preload_sdk

OPENAPI_SETTINGS = {
    "API_TITLE": "Shop API",
    "API_VERSION": "v1",
    "OPENAPI_VERSION": "3.0.3",
    "OPENAPI_URL_PREFIX": "/api/v1",
    "OPENAPI_JSON_PATH": "openapi.json",
    "OPENAPI_SWAGGER_UI_PATH": "docs",
    "OPENAPI_SWAGGER_UI_URL": "/api/v1/docs-assets/",
    # A hundred operations: tags start folded (open one, or link to it: /docs#/carts), with a
    # filter box over them. Unfolded, the page took seconds to draw them all.
    "OPENAPI_SWAGGER_UI_CONFIG": {"docExpansion": "none", "filter": True, "deepLinking": True},
    "API_SPEC_OPTIONS": {
        "info": {
            "description": "Headless shop for skincare clinics: catalogue, carts, Stripe "
            "checkout, treatment gift vouchers and staff tools. Money is always "
            '{"amount": <integer minor units>, "currency": "GBP"}; errors are '
            "application/problem+json (RFC 9457).",
        },
        "components": {
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "opaque"}
            }
        },
    },
}


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    app.config.update(OPENAPI_SETTINGS)
    app.config.update(shop_config.from_environment(app.instance_path))
    app.config.update(test_config or {})
    _derive_settings(app)
    if app.config["TRUSTED_PROXY_COUNT"]:
        # Behind N load balancers the client's address is in X-Forwarded-For; rate limits
        # per IP depend on reading it, and only from proxies we trust.
        count = app.config["TRUSTED_PROXY_COUNT"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=count)
    shop_config.check_production(app.config)
    configure_logging(app)

    import shop.models  # noqa: F401  (every model registered before the first query)

    db.init_app(app)
    migrate.init_app(
        app, db, directory=app.config["MIGRATIONS_DIR"], render_as_batch=True, compare_type=True
    )
    with app.app_context():
        install_sqlite_behaviour(db.engine)
        discard_closed_connections(db.engine)
        plan_with_values(db.engine)
        track_writes(db.engine)
        attach_reader_engine(db.engine, app.config["SQLALCHEMY_ENGINE_OPTIONS"])
    limiter.init_app(app)
    cors.init_app(
        app, resources={r"/api/*": {"origins": app.config["CORS_ORIGINS"]}},
        expose_headers=["ETag", "X-Request-ID", "Retry-After", "Idempotency-Key",
                        "Idempotent-Replayed"],
    )
    api.init_app(app)
    init_http(app)
    register_error_handlers(app)
    _register_blueprints(app)
    _register_cli(app)
    preload_sdk()
    return app


def _derive_settings(app: Flask) -> None:
    app.config.setdefault(
        "MIGRATIONS_DIR", str(Path(__file__).resolve().parent.parent / "migrations")
    )
    app.config.setdefault("RATELIMIT_STORAGE_URI", app.config["REDIS_URL"] or "memory://")
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", True)
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    if uri.startswith("sqlite:///") and ":memory:" not in uri:
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    if uri.startswith("postgresql"):
        app.config.setdefault(
            "SQLALCHEMY_ENGINE_OPTIONS",
            {"pool_size": app.config["DATABASE_POOL_SIZE"]},  # liveness: discard_closed_connections
        )
    # A logged database error must not carry its statement's values (tokens, stored replies).
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {
        "hide_parameters": True, **app.config.get("SQLALCHEMY_ENGINE_OPTIONS", {})}


def _register_blueprints(app: Flask) -> None:
    from shop import docs, health
    from shop.accounts import admin_routes as accounts_admin
    from shop.accounts import routes as accounts
    from shop.accounts import two_factor_routes as accounts_two_factor
    from shop.admin.routes import register_admin_blueprints
    from shop.back_in_stock.routes import blp as back_in_stock_blp
    from shop.carts.routes import blp as carts_blp
    from shop.catalogue.routes import blp as catalogue_blp
    from shop.checkout.routes import blp as checkout_blp
    from shop.enquiries.routes import blp as enquiries_blp
    from shop.orders.routes import blp as orders_blp
    from shop.payments.routes import blp as payments_blp
    from shop.promotions.routes import blp as promotions_blp
    from shop.returns.routes import blp as returns_blp
    from shop.reviews.routes import blp as reviews_blp
    from shop.vouchers.routes import blp as vouchers_blp
    from shop.wishlist.routes import blp as wishlist_blp

    app.register_blueprint(health.bp)
    app.register_blueprint(docs.bp)
    for blueprint in (
        catalogue_blp, accounts.auth_blp, accounts.me_blp, accounts_two_factor.blp,
        accounts_admin.blp, carts_blp, checkout_blp, orders_blp, payments_blp, vouchers_blp,
        back_in_stock_blp, promotions_blp, enquiries_blp, returns_blp, reviews_blp,
        wishlist_blp,
    ):
        api.register_blueprint(blueprint)
    register_admin_blueprints(api)


def _register_cli(app: Flask) -> None:
    from shop.cli import register_commands

    register_commands(app)
