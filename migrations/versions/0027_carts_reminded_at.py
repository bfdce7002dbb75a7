"""carts.reminded_at: when the customer was emailed about the cart they left (and its index)

Revision ID: 0027
Revises: 0026
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0027'
down_revision = '0026'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('carts', sa.Column('reminded_at', sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        'ix_carts_customer_open_updated_at', 'carts', ['updated_at'], unique=False,
        sqlite_where=sa.text("status = 'open' AND user_id IS NOT NULL"),
        postgresql_where=sa.text("status = 'open' AND user_id IS NOT NULL"),
    )


def downgrade():
    op.drop_index('ix_carts_customer_open_updated_at', table_name='carts')
    op.drop_column('carts', 'reminded_at')  # SQLite 3.35+ drops a column in place
