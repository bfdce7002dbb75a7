"""Test fixtures: one throwaway database per run (SQLite file or PostgreSQL), schema built by
the migrations once, the seed catalogue loaded once, and a rolled-back transaction per test.

SHOP_TEST_DB picks the database: `sqlite` (default) or `postgresql` (TEST_DATABASE_URL
names the server; a database is created for the run and dropped after).
"""

from __future__ import annotations

import os
import secrets
from contextlib import contextmanager

import pytest
from flask.testing import FlaskClient
from flask_migrate import upgrade
from flask_sqlalchemy.session import Session as FlaskSQLAlchemySession
from sqlalchemy import event

from shop import create_app
from shop.cli import SEED_DIR
from shop.extensions import db
from tests.fixtures.database import create_test_database, drop_test_database, wipe_all_tables

pytest_plugins = ["tests.fixtures.auth", "tests.fixtures.smtp", "tests.fixtures.stripe",
                  "tests.fixtures.processes"]

TEST_DB = os.environ.get("SHOP_TEST_DB", "sqlite")


def pytest_report_header() -> str:
    return f"shop test database: {TEST_DB}"


def pytest_collection_modifyitems(config, items) -> None:
    if TEST_DB == "postgresql":
        return
    for item in items:
        marker = item.get_closest_marker("postgresql_only")
        if marker is not None:
            why = marker.kwargs.get("reason", "needs PostgreSQL row locks")
            item.add_marker(pytest.mark.skip(reason=f"{why}; runs in the PostgreSQL pass"))


@pytest.fixture(scope="session")
def database_url(tmp_path_factory, worker_id):
    url = create_test_database(TEST_DB, tmp_path_factory.mktemp(f"db-{worker_id}"), worker_id)
    yield url
    drop_test_database(url)


@pytest.fixture(scope="session")
def app_config(database_url):
    """Settings every test app shares; fixtures for live servers copy and extend it."""
    return {
        "TESTING": True,
        "SHOP_ENV": "test",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SECRET_KEY": "test-secret-key",
        "RATELIMIT_ENABLED": False,
        "CATALOGUE_RESPONSE_CACHE_SECONDS": 0,
        # Argon2 at its cheapest: tests hash hundreds of passwords (production: t=3, 64 MiB).
        "PASSWORD_HASH_TIME_COST": 1,
        "PASSWORD_HASH_MEMORY_COST": 8,
        "PASSWORD_HASH_PARALLELISM": 1,
        "STRIPE_WEBHOOK_SECRET": "whsec_test_secret",
    }


class RequestIsolatedClient(FlaskClient):
    """Each request gets its own app context (so its own `g` and session), as in production,
    even though the test itself runs inside the db_session fixture's app context."""

    def open(self, *args, **kwargs):
        with self.application.app_context():
            return super().open(*args, **kwargs)


# A paid order (id 1) as raw SQL, for tests of what a migration does to rows already there
PAID_ORDER_SQL = """INSERT INTO orders (id, status, email, currency, subtotal_amount,
    shipping_amount, discount_amount, vat_amount, vat_breakdown, total_amount, amount_due,
    needs_attention, created_at, updated_at)
VALUES (1, 'paid', 'a@example.com', 'GBP', 3000, 0, 0, 500, '[]', 3000, 3000, false,
    CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"""


@contextmanager
def migrated_to(app_config: dict, tmp_path, worker_id: str, revision: str):
    """An app on a database of its own, migrated up to `revision`: for tests of what a later
    migration does to the rows already there."""
    url = create_test_database(TEST_DB, tmp_path, f"{worker_id}_{revision.replace('-', '_')}")
    app = create_app({**app_config, "SQLALCHEMY_DATABASE_URI": url})
    try:
        with app.app_context():
            upgrade(directory=app.config["MIGRATIONS_DIR"], revision=revision)
            yield app
            db.engine.dispose()
    finally:
        drop_test_database(url)


@pytest.fixture(scope="session")
def app(app_config):
    app = create_app(app_config)
    app.test_client_class = RequestIsolatedClient
    with app.app_context():
        upgrade(directory=app.config["MIGRATIONS_DIR"])
        seed_catalogue(app)
    return app


def seed_catalogue(app) -> None:
    from shop.catalogue import seed

    with app.app_context():
        with db.session.begin():
            seed.load_catalogue(session=db.session, seed_dir=SEED_DIR)
        db.session.remove()


class ConnectionBoundSession(FlaskSQLAlchemySession):
    """Flask-SQLAlchemy's get_bind() answers the engine even when the session was given a
    `bind`: without this the per-test connection is bypassed and route commits are real."""

    def get_bind(self, *args, **kwargs):
        return self.bind


@pytest.fixture
def db_session(app):
    """A session whose work is rolled back after the test, even what routes commit."""
    with app.app_context():
        connection = db.engine.connect()
        outer = connection.begin()
        original = db.session
        db.session = db._make_scoped_session(
            {"bind": connection, "binds": {}, "join_transaction_mode": "create_savepoint",
             "class_": ConnectionBoundSession}
        )
        try:
            yield db.session
        finally:
            db.session.remove()
            db.session = original
            outer.rollback()
            connection.close()


@pytest.fixture
def client(app, db_session):
    return app.test_client()


@pytest.fixture
def committed(app):
    """For tests whose work must really commit (threads, processes, live servers).

    Everything is wiped after the test and the seed catalogue loaded again.
    """
    yield
    with app.app_context():
        db.session.remove()
        wipe_all_tables(db.engine)
    seed_catalogue(app)


@pytest.fixture
def count_queries(app):
    """Counts SQL statements run while the returned counter is active."""

    class Counter:
        def __init__(self) -> None:
            self.count = 0

        def __call__(self, *_args) -> None:
            self.count += 1

    counter = Counter()
    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", counter)
    yield counter
    event.remove(engine, "before_cursor_execute", counter)


@pytest.fixture
def limited_app(app_config, db_session):
    """Build apps with rate limiting on (the suite's app has it off); strict limits unless
    a test says otherwise. Each test gets its own key prefix."""
    built = []
    prefix = f"test-{secrets.token_hex(6)}"

    def build(**overrides):
        config = {
            **app_config,
            "RATELIMIT_ENABLED": True,
            "RATELIMIT_STORAGE_URI": "memory://",
            "RATELIMIT_KEY_PREFIX": prefix,
            "LOGIN_RATE_LIMIT": "3 per minute",
            "LOGIN_EMAIL_RATE_LIMIT": "100 per minute",
            "REGISTER_RATE_LIMIT": "2 per minute",
            "REGISTER_EMAIL_RATE_LIMIT": "100 per minute",
            "REFRESH_RATE_LIMIT": "2 per minute",
            **overrides,
        }
        new_app = create_app(config)
        built.append(new_app)
        return new_app

    yield build
    for each in built:
        with each.app_context():
            db.engine.dispose()


@pytest.fixture
def pooled_app(app_config, committed):
    """Build apps with their own engine and `pool_size` connections, for tests whose threads
    race over committed data; each engine is disposed after the test (before the wipe)."""
    built = []

    def build(pool_size: int, **overrides):
        new_app = create_app({**app_config, **overrides, "SQLALCHEMY_ENGINE_OPTIONS": {
            "pool_size": pool_size, "max_overflow": 0}})
        built.append(new_app)
        return new_app

    yield build
    for each in built:
        with each.app_context():
            db.session.remove()
            db.engine.dispose()
