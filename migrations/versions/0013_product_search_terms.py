"""catalogue: search terms, so that a one-word search costs the same at any catalogue size

A search ranked by relevance took its first 1,001 matches from the GIN index on
products.search_vector, whose bitmap holds every product the word matches: a fixed share of
the catalogue, so a search cost 0.5 ms of database time at 1,000 products and 8 ms at
100,000 (bench/README.md, Scaling). And the 1,001 it ranked were any 1,001.

product_search_terms holds one row per active product and per word of its search vector
(the ASCII lexemes a one-word search can ask for), with the word's rank in that product
(ts_rank against the word alone, which is what a one-word search ranks by) and the columns
the list filters read, products.facets among them. A one-word search walks the word's rows
in relevance order and stops after the page, and counts up to 1,001 matches in the same
index: the most relevant products of the whole catalogue, in a time that does not grow
with it. A one-word search sorted by a column counts its first 1,001 matches here too, and
walks the sort's index of products only when more match. A search of several words still
reads products: probing each of its first word's rows for the others, and reading 1,001
products out of order to rank them, cost more than the GIN bitmap up to 100,000 products
(14 against 9 ms).

Kept by a trigger on products, as product_listings (0012); PostgreSQL only: on SQLite the
table stays empty and searches read products.

Revision ID: 0013
Revises: 0012
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

COLUMNS = ("term, product_id, rank, name, category_id, created_at, facets, min_active_price, "
           "max_active_price")
# Only lexemes a one-word search can be (an ASCII word or number, as the english
# configuration writes it) are kept; `lexeme::tsquery` is then that lexeme alone.
TERMS_OF = """
SELECT lexeme, {product}.id, ts_rank({product}.search_vector, lexeme::tsquery),
       {product}.name, {product}.category_id, {product}.created_at, coalesce({product}.facets, '{{}}'), {product}.min_active_price,
       {product}.max_active_price
FROM unnest(tsvector_to_array({product}.search_vector)) AS lexeme
WHERE lexeme ~ '^[a-z0-9]+$'
"""
TERMS_CHANGED = f"""
CREATE FUNCTION products_search_terms_changed() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        DELETE FROM product_search_terms WHERE product_id = OLD.id;
    END IF;
    IF NEW.status = 'active' THEN
        INSERT INTO product_search_terms ({COLUMNS})
        {TERMS_OF.format(product="NEW")};
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql
"""
ADD_ALL = f"""
INSERT INTO product_search_terms ({COLUMNS})
SELECT terms.* FROM products, LATERAL ({TERMS_OF.format(product="products")}) AS terms
WHERE products.status = 'active'
"""
TERM_COLUMNS = ("status", "name", "category_id", "created_at", "facets", "min_active_price",
                "max_active_price", "search_vector")


def _row(alias: str) -> str:
    return "(" + ", ".join(f"{alias}.{column}" for column in TERM_COLUMNS) + ")"


TRIGGERS = [
    "CREATE TRIGGER products_search_terms_added AFTER INSERT ON products "
    "FOR EACH ROW EXECUTE FUNCTION products_search_terms_changed()",
    # (a draft's changes, and those a search does not read, change no term)
    f"CREATE TRIGGER products_search_terms_updated AFTER UPDATE ON products FOR EACH ROW "
    f"WHEN ({_row('OLD')} IS DISTINCT FROM {_row('NEW')} "
    f"AND 'active' IN (OLD.status, NEW.status)) "
    f"EXECUTE FUNCTION products_search_terms_changed()",
]


def upgrade():
    op.create_table(
        "product_search_terms",
        sa.Column("term", sa.Text(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("rank", sa.REAL(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("facets", postgresql.ARRAY(sa.Text()).with_variant(sa.JSON(), "sqlite"),
                  nullable=False),
        sa.Column("min_active_price", sa.Integer(), nullable=True),
        sa.Column("max_active_price", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["product_id"], ["products.id"], ondelete="CASCADE",
                                name="fk_product_search_terms_product_id_products"),
        # (product_id first: the trigger replaces a product's rows)
        sa.PrimaryKeyConstraint("product_id", "term", name="pk_product_search_terms"),
    )
    # relevance order (ranked searches: rank descending, then name and id)
    op.create_index("ix_product_search_terms_term_rank", "product_search_terms",
                    ["term", sa.text("rank DESC"), "name", "product_id"],
                    postgresql_include=["facets", "category_id", "min_active_price",
                                        "max_active_price"])
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(TERMS_CHANGED)
    for trigger in TRIGGERS:
        op.execute(trigger)
    op.execute(ADD_ALL)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER products_search_terms_updated ON products")
        op.execute("DROP TRIGGER products_search_terms_added ON products")
        op.execute("DROP FUNCTION products_search_terms_changed()")
    op.drop_table("product_search_terms")
