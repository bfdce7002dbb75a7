"""catalogue: product facets and price range, kept by triggers, for the list filters

A page whose filters were never asked before found its products by joining skin types and
concerns, then probing each match's variants for the price filter and again for the price
sort key: three index probes per matching product, the larger part of the page's database
time (bench/README.md). Each product now carries what the filters ask about:
`facets` ('skin:oily', 'concern:<id>'), with a GIN index that intersects a skin type and a
concern in one scan, and the lowest and highest price of its active variants. Triggers on
product_skin_types, product_concerns and product_variants keep them, whatever writes those
tables. PostgreSQL only: on SQLite the columns exist (the models are the same) but stay
empty, as the filters there keep their joins.

Revision ID: 0010
Revises: 0009
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

FUNCTIONS = [
    """
CREATE FUNCTION products_refresh_facets(product integer) RETURNS void AS $$
    UPDATE products SET facets = ARRAY(
        SELECT 'skin:' || skin_type FROM product_skin_types WHERE product_id = product
        UNION ALL
        SELECT 'concern:' || concern_id FROM product_concerns WHERE product_id = product
        ORDER BY 1)
    WHERE id = product
$$ LANGUAGE sql
""",
    """
CREATE FUNCTION products_refresh_price_range(product integer) RETURNS void AS $$
    UPDATE products SET (min_active_price, max_active_price) = (
        SELECT min(price_amount), max(price_amount) FROM product_variants
        WHERE product_id = product AND is_active)
    WHERE id = product
$$ LANGUAGE sql
""",
]
# One trigger function per kind of child row: refresh the product it left and the one it
# joined (the same product unless product_id itself changed).
TRIGGER_FUNCTION = """
CREATE FUNCTION products_{what}_changed() RETURNS trigger AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM products_refresh_{what}(OLD.product_id);
    END IF;
    IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.product_id <> OLD.product_id) THEN
        PERFORM products_refresh_{what}(NEW.product_id);
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql
"""
TRIGGERS = [
    ("product_skin_types", "facets", "INSERT OR UPDATE OR DELETE"),
    ("product_concerns", "facets", "INSERT OR UPDATE OR DELETE"),
    ("product_variants", "price_range",
     "INSERT OR UPDATE OF price_amount, is_active, product_id OR DELETE"),
]


def upgrade():
    postgres = op.get_bind().dialect.name == "postgresql"
    facets_type = postgresql.ARRAY(sa.Text()) if postgres else sa.JSON()
    with op.batch_alter_table("products") as batch_op:
        batch_op.add_column(sa.Column("facets", facets_type, nullable=True))
        batch_op.add_column(sa.Column("min_active_price", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("max_active_price", sa.Integer(), nullable=True))
    if not postgres:
        op.create_index("ix_products_facets", "products", ["facets"])
        return
    for function in FUNCTIONS:
        op.execute(function)
    for what in ("facets", "price_range"):
        op.execute(TRIGGER_FUNCTION.format(what=what))
    for table, what, events in TRIGGERS:
        op.execute(f"CREATE TRIGGER {table}_refresh_product AFTER {events} ON {table} "
                   f"FOR EACH ROW EXECUTE FUNCTION products_{what}_changed()")
    op.execute("SELECT products_refresh_facets(id), products_refresh_price_range(id) "
               "FROM products")
    op.create_index("ix_products_facets", "products", ["facets"], postgresql_using="gin")


def downgrade():
    postgres = op.get_bind().dialect.name == "postgresql"
    op.drop_index("ix_products_facets", table_name="products")
    if postgres:
        for table, _, _ in TRIGGERS:
            op.execute(f"DROP TRIGGER {table}_refresh_product ON {table}")
        for what in ("facets", "price_range"):
            op.execute(f"DROP FUNCTION products_{what}_changed()")
            op.execute(f"DROP FUNCTION products_refresh_{what}(integer)")
    with op.batch_alter_table("products") as batch_op:
        batch_op.drop_column("max_active_price")
        batch_op.drop_column("min_active_price")
        batch_op.drop_column("facets")
