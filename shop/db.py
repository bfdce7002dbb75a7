"""Declarative base, naming convention and the session helpers services rely on."""

from __future__ import annotations

import select
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from sqlalchemy import DateTime, Engine, MetaData, TypeDecorator, event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import DeclarativeBase, Session, registry

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator):
    """DateTime(timezone=True) that always reads back aware UTC datetimes. PostgreSQL does;
    SQLite returns the stored UTC value naive, which the API would then print without an
    offset (not an RFC 3339 date-time)."""

    impl = DateTime
    cache_ok = True

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    registry = registry(
        metadata=MetaData(naming_convention=NAMING_CONVENTION),
        type_annotation_map={datetime: UtcDateTime(timezone=True)},
    )


def install_sqlite_behaviour(engine: Engine) -> None:
    """Make SQLite honour foreign keys and real (savepoint-capable) transactions."""
    if engine.dialect.name != "sqlite" or getattr(engine, "_shop_sqlite", False):
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None  # let SQLAlchemy emit BEGIN itself
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:
        # IMMEDIATE: take the write lock up front, so concurrent writers (say, three webhook
        # deliveries at once) queue on busy_timeout; with a plain BEGIN a reader upgrading to
        # a writer fails at once with "database is locked" (SQLite skips the busy handler to
        # avoid a deadlock). SQLite is for laptops and tests: serialising is fine there.
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    engine._shop_sqlite = True  # type: ignore[attr-defined]


def discard_closed_connections(engine: Engine) -> None:
    """Never hand out a pooled PostgreSQL connection the server has closed (a restart, a
    terminated backend): the pool discards it and takes another (SQLAlchemy's custom
    pessimistic disconnect handling). pool_pre_ping does the same with a SELECT 1 round trip
    on every checkout, 5% of a product page's CPU; a connection the server closed while it
    sat idle in the pool has something to read instead, the server's FATAL notice and the
    end of the stream, which a zero-timeout poll of its socket sees."""
    if engine.dialect.name != "postgresql" or getattr(engine, "_shop_discards_closed", False):
        return

    @event.listens_for(engine, "checkout")
    def _discard_if_closed(dbapi_connection, record, proxy) -> None:
        try:
            readable, _, _ = select.select([dbapi_connection.pgconn.socket], [], [], 0)
        except Exception as exc:  # closed or broken: psycopg has no socket to give
            raise DisconnectionError("connection closed") from exc
        if readable:  # an idle connection is sent nothing unless the server is closing it
            raise DisconnectionError("the server closed this pooled connection")

    engine._shop_discards_closed = True  # type: ignore[attr-defined]


PLAN_WITH_VALUES = "shop_plan_with_values"


def plan_with_values(engine: Engine) -> None:
    """Statements run with execution option PLAN_WITH_VALUES=True are planned for their
    values on every execution. psycopg prepares a statement on a connection once it has run
    there five times, and PostgreSQL then soon settles on a generic plan made without the
    values: for the product page that plan sorts every match where walking the sort's index
    stops after the page (25 ms instead of 3.5 at 50,000 products)."""
    if engine.dialect.name != "postgresql" or getattr(engine, "_shop_plans_with_values", False):
        return

    @event.listens_for(engine, "do_execute")
    def _unprepared(cursor, statement, parameters, context) -> bool | None:
        if context.execution_options.get(PLAN_WITH_VALUES):
            cursor.execute(statement, parameters, prepare=False)
            return True
        return None

    engine._shop_plans_with_values = True  # type: ignore[attr-defined]


WROTE = "shop.wrote_in_transaction"


def track_writes(engine: Engine) -> None:
    """Note on each connection whether its current transaction ran anything but a SELECT, so
    that a request's session can end a read-only transaction with COMMIT (end_session)."""
    if getattr(engine, "_shop_tracks_writes", False):
        return

    @event.listens_for(engine, "before_cursor_execute")
    def _note_write(connection, cursor, statement, parameters, context, executemany) -> None:
        if statement.lstrip()[:6].upper() != "SELECT":
            connection.info[WROTE] = True

    def _forget_writes(connection) -> None:
        if not connection.invalidated:  # (a dead one is never used again)
            connection.info[WROTE] = False

    for boundary in ("begin", "commit", "rollback"):
        event.listen(engine, boundary, _forget_writes)
    engine._shop_tracks_writes = True  # type: ignore[attr-defined]


def only_read(session: Session) -> bool:
    """Whether the session's open transaction ran nothing but SELECTs and holds no pending
    changes, so that COMMIT ends it as well as ROLLBACK would. A request's session ends such a
    transaction with COMMIT (ShopSQLAlchemy): psycopg discards every prepared statement of
    the connection when it sees a ROLLBACK, and the reads after a request's last commit (the
    response reading its order, say) made every request plan all its statements again."""
    return (session.is_active and session.in_transaction()
            and not (session.new or session.dirty or session.deleted)
            and not session.connection().info.get(WROTE, True))


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; treat them as the UTC they were stored as."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def is_postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


@contextmanager
def unit_of_work(session: Session) -> Iterator[Session]:
    """Commit once when the block succeeds, roll back on any exception."""
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
