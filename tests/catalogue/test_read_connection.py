"""A request's catalogue reads run on one connection in autocommit, outside the request's
session: no transaction is opened or ended around them (no BEGIN, no ROLLBACK, so psycopg keeps
its prepared statements), and the connection goes back to its pool when the app context ends,
or is thrown away if it died. On PostgreSQL that pool is the engine's autocommit twin's
(shop.db.attach_reader_engine), whose connections never switch in and out of autocommit."""

import time

import pytest
from sqlalchemy import event

from shop.catalogue import listing
from shop.db import reader_engine
from shop.extensions import db

PAGE = "/api/v1/products?skin_type=oily&sort=price&per_page=5&min_price={}"


def _reads_engine():
    return reader_engine(db.engine) or db.engine


def _in_autocommit(connection) -> bool:
    dbapi = connection.connection.dbapi_connection
    if connection.dialect.name == "postgresql":
        return dbapi.autocommit
    return dbapi.isolation_level is None  # pysqlite's autocommit


@pytest.fixture
def engine_events(app):
    """The pool checkouts and transaction boundaries the engines see meanwhile: ("reads",
    event) for the engine catalogue reads use, ("app", event) for the app's own."""
    with app.app_context():
        engines = {"reads": _reads_engine(), "app": db.engine}
    seen: list[tuple[str, str]] = []
    listeners = [(engine, name, (lambda *_args, key=(which, name): seen.append(key)))
                 for which, engine in engines.items()
                 for name in ("checkout", "checkin", "begin", "commit", "rollback")]
    for target, name, listener in listeners:
        event.listen(target, name, listener)
    yield seen
    for target, name, listener in listeners:
        event.remove(target, name, listener)


def test_a_page_is_read_on_one_pooled_connection_given_back_at_the_end(
    app, committed, engine_events
):
    client = app.test_client()
    client.get(PAGE.format(0))  # (the catalogue version is read once, on its own)
    engine_events.clear()
    for price in (100, 200):
        response = client.get(PAGE.format(price), headers={"Cache-Control": "no-cache"})
        assert response.status_code == 200 and response.json["items"]
    reads = [name for which, name in engine_events if which == "reads"]
    assert reads.count("checkout") == reads.count("checkin") <= 2  # one a request, at most
    assert "commit" not in reads
    with app.app_context():
        assert db.engine.pool.checkedout() == 0 and _reads_engine().pool.checkedout() == 0


@pytest.mark.postgresql_only(reason="the autocommit twin is made for PostgreSQL engines")
def test_pages_leave_the_apps_own_pool_alone(app, committed, engine_events):
    client = app.test_client()
    client.get(PAGE.format(0))
    engine_events.clear()
    for price in (100, 200):
        assert client.get(PAGE.format(price)).status_code == 200
    assert [event for event in engine_events if event[0] == "app"] == []
    assert ("reads", "checkout") in engine_events
    with app.app_context():
        assert _reads_engine().pool.checkedin() > 0
        db.engine.dispose()  # closes the twin's idle connections too
        assert _reads_engine().pool.checkedin() == 0


def test_a_product_and_its_page_read_the_same_connection(app, committed):
    with app.test_request_context():
        first = listing.read_without_transaction(db.session)
        assert listing.read_without_transaction(db.session) is first
        assert _in_autocommit(first)
        assert not db.session().in_transaction()  # the session opened nothing
        listing.product_detail(session=db.session, slug="moist-hyaluronic-acid-serum")
        assert not db.session().in_transaction()
    assert first.closed


@pytest.mark.postgresql_only(reason="psycopg's server-side prepared statements")
def test_prepared_statements_outlive_catalogue_reads(app, committed):
    client = app.test_client()
    with app.app_context():
        _reads_engine().dispose()  # (the next requests share one connection)
    for price in range(8):  # psycopg prepares a statement on its fifth run
        assert client.get(PAGE.format(100 + price)).status_code == 200
    with app.app_context(), _reads_engine().connect() as connection:
        prepared = connection.exec_driver_sql(
            "SELECT count(*) FROM pg_prepared_statements "
            "WHERE statement LIKE '%%product_listings%%'")
        assert prepared.scalar_one() > 0


def _wait_until_gone(connection, backend: int) -> None:
    """pg_terminate_backend only signals the backend: under load it can take a while to
    exit, and until then its pooled connection looks alive (it flaked under load)."""
    for _ in range(500):
        alive = connection.exec_driver_sql(
            f"SELECT 1 FROM pg_stat_activity WHERE pid = {backend}").first()
        connection.rollback()  # pg_stat_activity is a snapshot kept for the whole transaction
        if not alive:
            return
        time.sleep(0.01)
    raise AssertionError(f"backend {backend} still alive 5 s after pg_terminate_backend")


@pytest.mark.postgresql_only(reason="pg_terminate_backend")
def test_a_reader_that_died_is_thrown_away_not_pooled(app, committed):
    with app.test_request_context():
        reader = listing.read_without_transaction(db.session)
        backend = reader.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
        with db.engine.connect() as other:
            other.exec_driver_sql(f"SELECT pg_terminate_backend({backend})")
            _wait_until_gone(other, backend)
    assert reader.closed  # the app context ended without an error
    client = app.test_client()
    for price in range(3):
        assert client.get(PAGE.format(price)).status_code == 200
