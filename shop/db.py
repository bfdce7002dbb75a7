"""Declarative base, naming convention and the session helpers services rely on."""

from __future__ import annotations

import select
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    DateTime,
    Engine,
    Insert,
    MetaData,
    TypeDecorator,
    Update,
    bindparam,
    create_engine,
    event,
    insert,
    inspect,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapper,
    Session,
    make_transient_to_detached,
    registry,
)
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError

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


def attach_reader_engine(engine: Engine, options: dict) -> None:
    """Give a PostgreSQL engine a twin whose connections stay in autocommit, with a pool of its
    own (`options` as the engine was made with), for reads that need no transaction
    (reader_engine); disposing the engine disposes it too. Switching a pooled connection to
    autocommit for each such read and back when it was returned cost 6% of a catalogue
    page's CPU."""
    if engine.dialect.name != "postgresql" or hasattr(engine, "_shop_reader_engine"):
        return
    reader = create_engine(engine.url, **{**options, "isolation_level": "AUTOCOMMIT"})
    discard_closed_connections(reader)
    plan_with_values(reader)
    event.listen(engine, "engine_disposed", lambda _engine: reader.dispose())
    engine._shop_reader_engine = reader  # type: ignore[attr-defined]


def reader_engine(engine: Engine) -> Engine | None:
    """The autocommit twin attach_reader_engine gave `engine`, if any."""
    return getattr(engine, "_shop_reader_engine", None)


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



@cache
def _attribute_keys(mapper: Mapper) -> dict[str, str]:
    """Column key -> attribute name, for the columns of the mapper's own table."""
    return {column.key: mapper.get_property_by_column(column).key
            for column in mapper.local_table.c}


_INSERTS_WITH_CONFLICT_CLAUSE = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


@cache
def _insert_returning(mapper: Mapper, given: tuple[str, ...], many: bool,
                      unless_exists: tuple[str, ...] = (),
                      dialect: str = "") -> tuple[Insert, tuple[str, ...]]:
    """INSERT of the `given` columns returning every other one (the key, Python defaults),
    and the attributes the returned values belong to. With `unless_exists` (the columns of a
    unique constraint), ON CONFLICT DO NOTHING, in the syntax of the `dialect`."""
    table, attributes = mapper.local_table, _attribute_keys(mapper)
    returned = [column for column in table.c if column.key not in given]
    if unless_exists:
        statement = _INSERTS_WITH_CONFLICT_CLAUSE[dialect](table).on_conflict_do_nothing(
            index_elements=[table.c[column] for column in unless_exists])
    else:
        statement = insert(table)
    statement = statement.returning(*returned, sort_by_parameter_order=many)
    return statement, tuple(attributes[column.key] for column in returned)


def insert_now(session: Session, *objects: Base) -> None:
    """INSERT new objects of one class in one Core statement and put them in the session as
    if just loaded: what `session.add` and a flush do, without the unit of work. That costs
    0.46 ms of CPU per row here against 0.27 for the statement alone, and was most of what a
    checkout spends writing its order.

    Every object must have the same attributes set; the others take their column defaults,
    read back with RETURNING. Only columns are written: relationships are neither inserted
    nor cascaded, so give each object its foreign keys and set the collections that hold the
    new rows with set_committed_value.
    """
    mapper = inspect(objects[0]).mapper
    attributes = _attribute_keys(mapper)
    given = _set_columns(objects[0], attributes)
    if any(_set_columns(obj, attributes) != given for obj in objects[1:]):
        raise ValueError("insert_now: every object must have the same attributes set")
    rows = [_row(obj, given, attributes) for obj in objects]
    many = len(rows) > 1
    statement, returned_attributes = _insert_returning(mapper, given, many)
    returned = session.execute(statement, rows if many else rows[0]).all()
    for obj, values in zip(objects, returned, strict=True):
        _as_loaded(session, obj, returned_attributes, values)


def insert_once(session: Session, obj: Base, *, unless_exists: tuple[str, ...]) -> bool:
    """insert_now of one object, unless a row with the same values in the `unless_exists`
    columns (a unique constraint) exists: INSERT ... ON CONFLICT DO NOTHING, one statement
    where a look-up, then a savepoint around the INSERT to catch a concurrent one, take four.
    False when the row exists, the object then left out of the session. On PostgreSQL a row
    a concurrent transaction inserted but has not committed yet makes this wait for it: a
    commit means the row exists, a rollback that this one is inserted."""
    mapper = inspect(obj).mapper
    attributes = _attribute_keys(mapper)
    given = _set_columns(obj, attributes)
    statement, returned_attributes = _insert_returning(
        mapper, given, False, unless_exists, session.get_bind().dialect.name)
    values = session.execute(statement, _row(obj, given, attributes)).first()
    if values is None:
        return False
    _as_loaded(session, obj, returned_attributes, values)
    return True


def _row(obj: Base, given: tuple[str, ...], attributes: dict[str, str]) -> dict[str, Any]:
    return {column: getattr(obj, attributes[column]) for column in given}


def _as_loaded(session: Session, obj: Base, attributes: tuple[str, ...], values) -> None:
    inspect(obj).dict.update(zip(attributes, values, strict=True))
    make_transient_to_detached(obj)
    session.add(obj)


def _set_columns(obj: Base, attributes: dict[str, str]) -> tuple[str, ...]:
    return tuple(column for column, attribute in attributes.items() if attribute in obj.__dict__)


@cache
def _update_returning(mapper: Mapper, changed: tuple[str, ...]) -> tuple[Update, tuple[str, ...]]:
    """UPDATE of the `changed` attributes' columns by primary key, returning the columns that
    change on any update (`onupdate`), and the attributes those belong to."""
    table, attributes = mapper.local_table, _attribute_keys(mapper)
    columns = {attribute: column for column, attribute in attributes.items()}
    automatic = [column for column in table.c
                 if column.onupdate is not None and attributes[column.key] not in changed]
    statement = (
        update(table)
        .where(*(column == bindparam(f"key_{column.key}") for column in mapper.primary_key))
        .values({columns[attribute]: bindparam(attribute) for attribute in changed})
    )
    if automatic:
        statement = statement.returning(*automatic)
    return statement, tuple(attributes[column.key] for column in automatic)


def update_now(session: Session, obj: Base, **changes: Any) -> None:
    """UPDATE a persistent object's row at once with a Core statement and record the new
    values as loaded, without the unit of work (see insert_now). Like any statement run in
    the session, it flushes what is pending first. StaleDataError if the row is gone, as a
    flush would raise."""
    state = inspect(obj)
    statement, returned_attributes = _update_returning(state.mapper, tuple(sorted(changes)))
    keys = {f"key_{column.key}": value
            for column, value in zip(state.mapper.primary_key, state.identity, strict=True)}
    result = session.execute(statement, {**changes, **keys})
    # (SQLite reports no rowcount for a statement with RETURNING: its row says it instead)
    values = result.first() if returned_attributes else (() if result.rowcount == 1 else None)
    if values is None:
        raise StaleDataError(f"update_now: no {state.mapper.class_.__name__} row {state.identity}")
    for attribute, value in (*changes.items(), *zip(returned_attributes, values, strict=True)):
        set_committed_value(obj, attribute, value)
