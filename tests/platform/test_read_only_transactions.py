"""A request whose open transaction only read ends it with COMMIT, not ROLLBACK: the same to
the data, and psycopg keeps the connection's prepared statements (it drops them all on a
ROLLBACK). Anything that wrote, holds unflushed changes or failed still rolls back."""

from contextlib import contextmanager

import pytest
from sqlalchemy import event, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shop.catalogue.models import Category, Variant
from shop.db import only_read
from shop.extensions import db


@contextmanager
def endings(app):
    """The transaction endings (commit, rollback) the app's engine sees meanwhile."""
    with app.app_context():
        engine = db.engine
    seen: list[str] = []
    listeners = {name: (lambda connection, name=name: seen.append(name))
                 for name in ("commit", "rollback")}
    for name, listener in listeners.items():
        event.listen(engine, name, listener)
    try:
        yield seen
    finally:
        for name, listener in listeners.items():
            event.remove(engine, name, listener)


@pytest.fixture
def session(app, committed):
    with app.app_context(), Session(db.engine) as session:
        yield session


def test_only_reads_is_told_apart_from_writes_and_pending_changes(session):
    assert not only_read(session)  # no transaction at all
    session.execute(select(Variant.id).limit(1))
    assert only_read(session)
    session.get(Variant, session.scalar(select(Variant.id).limit(1))).name += " (renamed)"
    assert not only_read(session)  # an unflushed change
    session.rollback()
    session.execute(update(Variant).where(Variant.id == -1).values(name="x"))
    assert not only_read(session)  # a statement that writes, even one that changed no row
    session.rollback()
    session.execute(text("SELECT 1"))
    assert only_read(session)  # the new transaction starts clean


def test_a_failed_flush_is_not_only_reading(session):
    session.execute(select(Category.id).limit(1))
    slug = session.scalar(select(Category.slug).limit(1))
    session.add(Category(slug=slug, name="Duplicate"))
    with pytest.raises(IntegrityError):
        session.flush()
    assert not only_read(session)


def test_a_read_only_request_commits_and_a_writing_one_does_not_roll_back(app, committed):
    client = app.test_client()
    with endings(app) as seen:
        cart = client.post("/api/v1/carts").json
    assert "rollback" not in seen
    with endings(app) as seen:
        for _ in range(3):
            assert client.get(f"/api/v1/carts/{cart['id']}").status_code == 200
    assert seen == ["commit"] * 3


def first_variant(app) -> tuple[int, str]:
    with app.app_context():
        return tuple(db.session.execute(select(Variant.id, Variant.name)
                                        .order_by(Variant.id).limit(1)).one())


@pytest.mark.parametrize("change", ["statement", "unflushed"])
def test_a_request_that_changed_something_without_committing_rolls_back(app, committed, change):
    variant_id, name = first_variant(app)
    with endings(app) as seen, app.test_request_context():
        if change == "statement":
            db.session.execute(update(Variant).where(Variant.id == variant_id)
                               .values(name="Never saved"))
        else:  # a COMMIT would flush it
            db.session.get(Variant, variant_id).name = "Never saved"
    assert seen == ["rollback"]
    assert first_variant(app) == (variant_id, name)


@pytest.mark.postgresql_only(reason="prepared statements are psycopg's")
def test_prepared_statements_outlive_read_only_requests(app, committed):
    client = app.test_client()
    cart = client.post("/api/v1/carts").json
    for _ in range(8):  # psycopg prepares a statement on its fifth run
        assert client.get(f"/api/v1/carts/{cart['id']}").status_code == 200
    with app.app_context():
        db.engine.dispose()  # (nothing else in the pool: the next request gets one connection)
    for _ in range(8):
        assert client.get(f"/api/v1/carts/{cart['id']}").status_code == 200
    with app.app_context(), db.engine.connect() as connection:
        prepared = connection.exec_driver_sql("SELECT count(*) FROM pg_prepared_statements")
        assert prepared.scalar_one() > 0


def test_what_a_read_only_context_loaded_stays_readable_after_it(app, committed):
    with app.app_context():
        variant = db.session.scalars(select(Variant).order_by(Variant.id).limit(1)).one()
    assert variant.name  # committed, yet not expired: readable as after a plain close
