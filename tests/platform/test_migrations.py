"""The migrations are the only source of the schema; they must match the models exactly."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from shop.db import Base
from shop.extensions import db

# Made by a migration where the database allows it, and read by no ORM query as such:
# PostgreSQL's trigram index for the search box's suggestions (migration 0035).
MIGRATION_ONLY_INDEXES = {"ix_products_name_trgm"}


def _in_models(obj, name, type_, reflected, compare_to) -> bool:
    return not (type_ == "index" and name in MIGRATION_ONLY_INDEXES)


# SQLite cannot reflect an index on an expression, so there it is left out of the comparison
# (tests/vouchers/test_wallet.py shows the wallet's one is there and used, on both databases).
@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
@pytest.mark.filterwarnings("ignore:autogenerate skipping metadata-specified expression-based")
def test_models_and_migrations_agree(app):
    with app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_object": _in_models})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []
