"""products: a trigram index on lower(name), so that the search box's suggestions (a word of
the name starting with what was typed, `LIKE '% hyal%'`) read an index, not every product

PostgreSQL only, and only where the pg_trgm extension can be created: on a host that refuses
it the suggestions still work, reading the table.

Revision ID: 0035
Revises: 0034
"""
import logging

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0035'
down_revision = '0034'
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")


def upgrade():
    bind = op.get_bind()
    if bind.dialect.name != 'postgresql':
        return
    try:
        with bind.begin_nested():
            bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except sa.exc.DBAPIError as exc:
        log.warning("pg_trgm is not available (%s): suggestions will read the products table",
                    exc.orig)
        return
    op.execute("CREATE INDEX ix_products_name_trgm ON products "
               "USING gin (lower(name) gin_trgm_ops)")


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("DROP INDEX IF EXISTS ix_products_name_trgm")
