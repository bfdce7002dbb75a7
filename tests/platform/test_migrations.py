"""The migrations are the only source of the schema; they must match the models exactly."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from shop.db import Base
from shop.extensions import db


def test_models_and_migrations_agree(app):
    with app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []
