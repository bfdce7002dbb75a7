"""How database failures reach clients (both databases, no real outage needed; the real one,
pg_terminate_backend under gunicorn, is in test_database_faults.py): a lost or refused
connection is a 503 problem `database_unavailable` with Retry-After, any other driver error
a 500; neither logs the statement's parameters; and a connection that dies after the
response was made does not turn that response into a bare 500."""

from __future__ import annotations

import logging
import secrets

import pytest
from flask_sqlalchemy.session import Session as FlaskSession
from sqlalchemy import event, text
from sqlalchemy import exc as sa_exc

from shop import create_app
from shop.accounts.models import User
from shop.extensions import db

SECRET_PARAMETER = "sk_live_parameter_that_must_not_be_logged"


class Driver(Exception):
    """Stands in for a DBAPI exception (psycopg's, sqlite3's)."""


@pytest.fixture(scope="module")
def probe(app, app_config):
    probe = create_app({**app_config, "PROPAGATE_EXCEPTIONS": False})
    failures = {
        "gone": lambda: sa_exc.OperationalError(
            "SELECT :secret", {"secret": SECRET_PARAMETER},
            Driver("terminating connection due to administrator command")),
        "invalidated": lambda: sa_exc.InterfaceError(
            "SELECT :secret", {"secret": SECRET_PARAMETER}, Driver("connection already closed"),
            connection_invalidated=True),
        "pool": lambda: sa_exc.TimeoutError("QueuePool limit of size 10 overflow 10 reached"),
        "misused": lambda: sa_exc.InvalidRequestError("Object is already attached to session 2"),
    }

    @probe.get("/_test/fail/<kind>")
    def fail(kind: str):
        db.session.execute(text("SELECT 1"))
        raise failures[kind]()

    @probe.get("/_test/duplicate")
    def duplicate():
        """A real IntegrityError from the engine, a secret among its statement's values."""
        email = f"twice-{secrets.token_hex(4)}@example.com"
        db.session.add(User(email=email, password_hash="!unusable", name="One"))
        db.session.flush()
        db.session.add(User(email=email, password_hash=SECRET_PARAMETER, name="Two"))
        db.session.flush()

    @probe.get("/_test/read")
    def read():
        return {"one": db.session.execute(text("SELECT 1")).scalar_one()}

    return probe


@pytest.fixture
def shop_logs(caplog):
    """The shop logger does not propagate (it has its own handler): attach caplog's."""
    logger = logging.getLogger("shop")
    logger.addHandler(caplog.handler)
    yield caplog
    logger.removeHandler(caplog.handler)


@pytest.mark.parametrize("kind", ["gone", "invalidated", "pool"])
def test_a_lost_database_is_a_503_problem_that_says_retry(probe, shop_logs, kind):
    response = probe.test_client().get(f"/_test/fail/{kind}")
    assert response.status_code == 503
    assert response.content_type == "application/problem+json"
    assert response.json["code"] == "database_unavailable"
    assert int(response.headers["Retry-After"]) > 0
    assert "database unavailable" in shop_logs.text
    assert SECRET_PARAMETER not in shop_logs.text


def test_a_pool_that_finds_every_connection_closed_is_a_503(probe, shop_logs):
    """Connections killed faster than the pool can replace them: each one it checks out is
    found closed (shop.db.discard_closed_connections raises DisconnectionError), and after
    its retries SQLAlchemy's pool gives up with a plain InvalidRequestError."""
    with probe.app_context():
        engine = db.engine

    def always_closed(dbapi_connection, record, proxy):
        raise sa_exc.DisconnectionError("the server closed this pooled connection")

    event.listen(engine, "checkout", always_closed)
    try:
        response = probe.test_client().get("/_test/read")
    finally:
        event.remove(engine, "checkout", always_closed)
    assert response.status_code == 503
    assert response.json["code"] == "database_unavailable"
    assert "database unavailable: InvalidRequestError" in shop_logs.text
    assert probe.test_client().get("/_test/read").json == {"one": 1}  # and it recovers


def test_a_misused_session_is_still_a_500(probe, shop_logs):
    """Only the pool's own give-up counts as an outage: other InvalidRequestErrors are bugs."""
    response = probe.test_client().get("/_test/fail/misused")
    assert response.status_code == 500 and response.json["code"] == "internal_error"


def test_other_database_errors_stay_500s_and_hide_their_parameters(probe, shop_logs):
    response = probe.test_client().get("/_test/duplicate")
    assert response.status_code == 500 and response.json["code"] == "internal_error"
    assert "IntegrityError" in shop_logs.text
    assert SECRET_PARAMETER not in shop_logs.text


def test_the_engine_hides_statement_parameters_in_its_errors(probe):
    with probe.app_context():
        assert db.engine.hide_parameters


def test_a_connection_that_dies_after_the_response_keeps_the_response(probe, monkeypatch):
    """Closing the session rolls back; on a dead connection that raises. The response already
    made must still go out, and the broken session must not be left registered."""
    closed, invalidated = [], []
    original_close, original_invalidate = FlaskSession.close, FlaskSession.invalidate

    def close_on_dead_connection(session):
        closed.append(session)
        if len(closed) == 1:
            raise sa_exc.OperationalError("ROLLBACK", {}, Driver("server closed the connection"))
        return original_close(session)

    def invalidate(session):
        invalidated.append(session)
        return original_invalidate(session)

    monkeypatch.setattr(FlaskSession, "close", close_on_dead_connection)
    monkeypatch.setattr(FlaskSession, "invalidate", invalidate)
    client = probe.test_client()
    first = client.get("/_test/read")
    assert (first.status_code, first.json) == (200, {"one": 1})
    assert invalidated == closed[:1]  # the broken session was invalidated, not rolled back
    second = client.get("/_test/read")
    assert (second.status_code, second.json) == (200, {"one": 1})
    assert closed[1] is not closed[0]  # a fresh session, not the broken one again


def test_the_catalogue_cache_falls_back_to_the_app_when_the_database_is_gone(
    app_config, monkeypatch,
):
    """The response cache is WSGI middleware, outside Flask's error handling: a failed read
    of the catalogue version there must not become the server's bare HTML 500."""
    from shop.catalogue import cache

    def unreachable(_session):
        raise sa_exc.OperationalError("SELECT version", {}, Driver("server closed the connection"))

    cached = create_app({**app_config, "CATALOGUE_RESPONSE_CACHE_SECONDS": 5,
                         "PROPAGATE_EXCEPTIONS": False})
    assert cached.test_client().get("/api/v1/products").status_code == 200
    monkeypatch.setattr(cache, "current_catalogue_version", unreachable)
    monkeypatch.setitem(cached.config, "CATALOGUE_VERSION_CHECK_MS", 0)  # read it every time
    response = cached.test_client().get("/api/v1/products")
    assert response.status_code == 200  # served by the app itself, uncached
    assert response.content_type == "application/json"
