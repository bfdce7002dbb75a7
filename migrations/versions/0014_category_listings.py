"""catalogue: a category facet in product_listings, so that a category page reads its own rows

A category page (no skin type or concern) walked the 'all' facet of product_listings in its
sort's order and kept the category's products: to count 1,001 matches it passed about
1,001 / the category's share of the catalogue rows (10,000 for a tenth), 2.7-3.3 ms of
database time from 10,000 products up. Each active product is now listed under
'category:<category id>' too, so a category page walks and counts its own rows. A category
with a skin type or concern still reads that facet and keeps the category's products.

Revision ID: 0014
Revises: 0013
"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

# product_listing_facets as 0012 made it, and with the category (the new signature)
FACETS = """
CREATE FUNCTION product_listing_facets({arguments}) RETURNS SETOF text AS $$
    SELECT 'all'{category}
    UNION ALL
    SELECT unnest(facets)
    UNION ALL
    SELECT skin || '&' || concern FROM unnest(facets) AS skin, unnest(facets) AS concern
    WHERE skin LIKE 'skin:%' AND concern LIKE 'concern:%'
$$ LANGUAGE sql IMMUTABLE
"""
CATEGORY = """
    UNION ALL
    SELECT 'category:' || category_id"""
COLUMNS = "facet, product_id, name, category_id, created_at, min_active_price, max_active_price"
LISTING_CHANGED = """
CREATE OR REPLACE FUNCTION products_listing_changed() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        DELETE FROM product_listings WHERE product_id = OLD.id;
    END IF;
    IF NEW.status = 'active' THEN
        INSERT INTO product_listings ({columns})
        SELECT facet, NEW.id, NEW.name, NEW.category_id, NEW.created_at, NEW.min_active_price,
               NEW.max_active_price
        FROM {facets} AS facet;
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql
"""
LIST_CATEGORIES = f"""
INSERT INTO product_listings ({COLUMNS})
SELECT 'category:' || category_id, id, name, category_id, created_at, min_active_price,
       max_active_price
FROM products WHERE status = 'active'
"""


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(FACETS.format(arguments="facets text[], category_id integer", category=CATEGORY))
    op.execute(LISTING_CHANGED.format(
        columns=COLUMNS, facets="product_listing_facets(NEW.facets, NEW.category_id)"))
    op.execute("DROP FUNCTION product_listing_facets(text[])")
    op.execute(LIST_CATEGORIES)


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DELETE FROM product_listings WHERE facet LIKE 'category:%'")
    op.execute(FACETS.format(arguments="facets text[]", category=""))
    op.execute(LISTING_CHANGED.format(columns=COLUMNS,
                                      facets="product_listing_facets(NEW.facets)"))
    op.execute("DROP FUNCTION product_listing_facets(text[], integer)")
