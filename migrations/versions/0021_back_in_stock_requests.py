"""back_in_stock_requests: customers waiting for an email when a variant is back in stock

Revision ID: 0021
Revises: 0020
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('back_in_stock_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('variant_id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('notified_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'],
                            name=op.f('fk_back_in_stock_requests_user_id_users'),
                            ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['variant_id'], ['product_variants.id'],
                            name=op.f('fk_back_in_stock_requests_variant_id_product_variants'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_back_in_stock_requests')),
    sa.UniqueConstraint('variant_id', 'email',
                        name=op.f('uq_back_in_stock_requests_variant_id_email'))
    )
    with op.batch_alter_table('back_in_stock_requests', schema=None) as batch_op:
        batch_op.create_index('ix_back_in_stock_requests_notified_at', ['notified_at'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_back_in_stock_requests_user_id'), ['user_id'],
                              unique=False)


def downgrade():
    with op.batch_alter_table('back_in_stock_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_back_in_stock_requests_user_id'))
        batch_op.drop_index('ix_back_in_stock_requests_notified_at')
    op.drop_table('back_in_stock_requests')
