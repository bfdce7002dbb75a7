"""catalogue: stored full-text search vector

Relevance sorting ranked every matching product with ts_rank(to_tsvector(search_text)), which
parses the text again for each match: 11 ms of 17 for a search matching 600 of 2,000
products (bench/README.md). The vector is now stored, kept by a trigger whenever search_text
is written, and the GIN index is on the column instead of the expression. PostgreSQL only:
on SQLite the column exists (the models are the same) but stays empty, as search there is a
LIKE over search_text.

Revision ID: 0008
Revises: 0007
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

TRIGGER_FUNCTION = """
CREATE FUNCTION products_search_vector_update() RETURNS trigger AS $$
BEGIN
    NEW.search_vector := to_tsvector('english'::regconfig, coalesce(NEW.search_text, ''));
    RETURN NEW;
END
$$ LANGUAGE plpgsql
"""
TRIGGER = """
CREATE TRIGGER products_search_vector BEFORE INSERT OR UPDATE OF search_text ON products
FOR EACH ROW EXECUTE FUNCTION products_search_vector_update()
"""


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        op.add_column("products", sa.Column("search_vector", sa.Text(), nullable=True))
        op.create_index("ix_products_search_vector", "products", ["search_vector"])
        return
    op.add_column("products", sa.Column("search_vector", postgresql.TSVECTOR(), nullable=True))
    op.execute(TRIGGER_FUNCTION)
    op.execute(TRIGGER)
    op.execute("UPDATE products SET search_vector = "
               "to_tsvector('english'::regconfig, coalesce(search_text, ''))")
    op.create_index("ix_products_search_vector", "products", ["search_vector"],
                    postgresql_using="gin")
    op.drop_index("ix_products_search_fts", table_name="products")


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        op.drop_index("ix_products_search_vector", table_name="products")
        with op.batch_alter_table("products") as batch_op:
            batch_op.drop_column("search_vector")
        return
    op.create_index(
        "ix_products_search_fts", "products",
        [sa.text("to_tsvector('english'::regconfig, search_text)")], postgresql_using="gin",
    )
    op.drop_index("ix_products_search_vector", table_name="products")
    op.execute("DROP TRIGGER products_search_vector ON products")
    op.execute("DROP FUNCTION products_search_vector_update()")
    op.drop_column("products", "search_vector")
