"""catalogue: product listings, so that a list page costs the same at any catalogue size

A page whose filters were never asked before counted its first 1,001 matches and sorted or
walked them from products: the count took a GIN bitmap of every match, then read 1,001
product rows, so a page cost 0.5 ms of database time at 1,000 products and 7.5 ms at 100,000
(bench/README.md, Scaling). product_listings holds one row per active product and per facet
it can be listed under ('all', each tag of products.facets, each skin type & concern pair)
with the columns the filters and sorts read. A page reads one facet: it walks the index of
its sort and stops after the page, and counts up to 1,001 matches in an index-only range
scan (0.3 ms for both at 50,000 products).

A trigger on products keeps the rows: the triggers of migrations 0010 and 0011 update
products.facets and the price range when skin types, concerns or variants change, so every
change of what a page reads passes through products. PostgreSQL only, as 0010: on SQLite the
table stays empty and pages read products.

Revision ID: 0012
Revises: 0011
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

FACETS = """
CREATE FUNCTION product_listing_facets(facets text[]) RETURNS SETOF text AS $$
    SELECT 'all'
    UNION ALL
    SELECT unnest(facets)
    UNION ALL
    SELECT skin || '&' || concern FROM unnest(facets) AS skin, unnest(facets) AS concern
    WHERE skin LIKE 'skin:%' AND concern LIKE 'concern:%'
$$ LANGUAGE sql IMMUTABLE
"""
COLUMNS = "facet, product_id, name, category_id, created_at, min_active_price, max_active_price"
LISTING_CHANGED = f"""
CREATE FUNCTION products_listing_changed() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        DELETE FROM product_listings WHERE product_id = OLD.id;
    END IF;
    IF NEW.status = 'active' THEN
        INSERT INTO product_listings ({COLUMNS})
        SELECT facet, NEW.id, NEW.name, NEW.category_id, NEW.created_at, NEW.min_active_price,
               NEW.max_active_price
        FROM product_listing_facets(NEW.facets) AS facet;
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql
"""
LIST_ALL = f"""
INSERT INTO product_listings ({COLUMNS})
SELECT facet, id, name, category_id, created_at, min_active_price, max_active_price
FROM products, product_listing_facets(products.facets) AS facet
WHERE status = 'active'
"""
LISTED_COLUMNS = ("status", "name", "category_id", "created_at", "facets", "min_active_price",
                  "max_active_price")


def _row(alias: str) -> str:
    return "(" + ", ".join(f"{alias}.{column}" for column in LISTED_COLUMNS) + ")"


TRIGGERS = [
    "CREATE TRIGGER products_listed AFTER INSERT ON products "
    "FOR EACH ROW EXECUTE FUNCTION products_listing_changed()",
    # (a draft's changes, and those a page does not read, list nothing)
    f"CREATE TRIGGER products_relisted AFTER UPDATE ON products FOR EACH ROW "
    f"WHEN ({_row('OLD')} IS DISTINCT FROM {_row('NEW')} "
    f"AND 'active' IN (OLD.status, NEW.status)) "
    f"EXECUTE FUNCTION products_listing_changed()",
]
INDEXES = [
    ("ix_product_listings_facet_name", ["facet", "name", "product_id"],
     ["min_active_price", "max_active_price", "category_id"]),
    ("ix_product_listings_facet_price", ["facet", "min_active_price", "name", "product_id"],
     ["max_active_price", "category_id"]),
    ("ix_product_listings_facet_created_at", ["facet", "created_at", "product_id"],
     ["min_active_price", "max_active_price", "category_id"]),
    ("ix_product_listings_facet_max_price", ["facet", "max_active_price"],
     ["min_active_price", "category_id"]),
]


def upgrade():
    op.create_table(
        "product_listings",
        sa.Column("facet", sa.Text(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("min_active_price", sa.Integer(), nullable=True),
        sa.Column("max_active_price", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["product_id"], ["products.id"], ondelete="CASCADE",
                                name="fk_product_listings_product_id_products"),
        # (product_id first: the trigger replaces a product's rows)
        sa.PrimaryKeyConstraint("product_id", "facet", name="pk_product_listings"),
    )
    for name, columns, included in INDEXES:
        op.create_index(name, "product_listings", columns, postgresql_include=included)
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(FACETS)
    op.execute(LISTING_CHANGED)
    for trigger in TRIGGERS:
        op.execute(trigger)
    op.execute(LIST_ALL)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER products_relisted ON products")
        op.execute("DROP TRIGGER products_listed ON products")
        op.execute("DROP FUNCTION products_listing_changed()")
        op.execute("DROP FUNCTION product_listing_facets(text[])")
    op.drop_table("product_listings")
