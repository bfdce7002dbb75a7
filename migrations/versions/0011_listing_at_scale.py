"""catalogue: list pages that stay flat as the catalogue grows

A page whose filters were never asked before found every matching product, gave each its
sort key and sorted them: at 50,000 products a skin type + concern page matched 4,000 and
cost 7 ms of database time against 0.4 ms at 1,000 (bench/README.md, Scaling). A page is
now read by walking an index in the sort's order and stopping after the page, which
PostgreSQL only chooses when it can estimate how many products the filters keep:

- products.facets names concerns by slug ('concern:enlarged-pores') instead of by id, so
  the filter is one array parameter that the planner reads the column's statistics for (a
  concern id looked up in a subquery is unknown when the plan is made); a trigger on
  concerns keeps the tags when a slug changes;
- the price sort walks (status, min_active_price), as the name and newest sorts walk the
  indexes they already had.

PostgreSQL only, as 0010: on SQLite the facet columns stay empty.

Revision ID: 0011
Revises: 0010
"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

REFRESH_FACETS = """
CREATE OR REPLACE FUNCTION products_refresh_facets(product integer) RETURNS void AS $$
    UPDATE products SET facets = ARRAY(
        SELECT 'skin:' || skin_type FROM product_skin_types WHERE product_id = product
        UNION ALL
        SELECT 'concern:' || {concern} FROM product_concerns
        JOIN concerns ON concerns.id = product_concerns.concern_id
        WHERE product_id = product
        ORDER BY 1)
    WHERE id = product
$$ LANGUAGE sql
"""
CONCERN_RENAMED = """
CREATE FUNCTION products_concern_renamed() RETURNS trigger AS $$
BEGIN
    PERFORM products_refresh_facets(product_id) FROM product_concerns
    WHERE concern_id = NEW.id;
    RETURN NULL;
END
$$ LANGUAGE plpgsql
"""
REFRESH_ALL = "SELECT products_refresh_facets(id) FROM products"


def upgrade():
    op.create_index("ix_products_status_min_active_price", "products",
                    ["status", "min_active_price"])
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(REFRESH_FACETS.format(concern="concerns.slug"))
    op.execute(CONCERN_RENAMED)
    op.execute("CREATE TRIGGER concerns_refresh_products AFTER UPDATE OF slug ON concerns "
               "FOR EACH ROW EXECUTE FUNCTION products_concern_renamed()")
    op.execute(REFRESH_ALL)


def downgrade():
    op.drop_index("ix_products_status_min_active_price", table_name="products")
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER concerns_refresh_products ON concerns")
    op.execute("DROP FUNCTION products_concern_renamed()")
    op.execute(REFRESH_FACETS.format(concern="product_concerns.concern_id"))
    op.execute(REFRESH_ALL)
