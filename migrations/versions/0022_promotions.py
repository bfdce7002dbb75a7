"""promotions: promotion codes, their redemptions, the code on a cart and on an order

Revision ID: 0022
Revises: 0021
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('promotions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('description', sa.String(length=200), nullable=False),
    sa.Column('percent_off', sa.Integer(), nullable=True),
    sa.Column('amount_off', sa.Integer(), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('min_subtotal_amount', sa.Integer(), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('max_redemptions', sa.Integer(), nullable=True),
    sa.Column('once_per_customer', sa.Boolean(), nullable=False),
    sa.Column('redemptions', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('active', 'disabled')", name=op.f('ck_promotions_status')),
    sa.CheckConstraint('(percent_off IS NOT NULL AND percent_off BETWEEN 1 AND 100 AND amount_off IS NULL) OR (amount_off IS NOT NULL AND amount_off > 0 AND percent_off IS NULL)', name=op.f('ck_promotions_one_value')),
    sa.CheckConstraint('max_redemptions IS NULL OR redemptions <= max_redemptions', name=op.f('ck_promotions_redemptions_within_max')),
    sa.CheckConstraint('min_subtotal_amount >= 0', name=op.f('ck_promotions_min_subtotal_not_negative')),
    sa.CheckConstraint('redemptions >= 0', name=op.f('ck_promotions_redemptions_not_negative')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_promotions')),
    sa.UniqueConstraint('code', name=op.f('uq_promotions_code'))
    )
    op.create_table('promotion_redemptions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('promotion_id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('amount', sa.Integer(), nullable=False),
    sa.Column('once_key', sa.String(length=254), nullable=True),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('held', 'used', 'released')", name=op.f('ck_promotion_redemptions_status')),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_promotion_redemptions_order_id_orders'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['promotion_id'], ['promotions.id'], name=op.f('fk_promotion_redemptions_promotion_id_promotions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_promotion_redemptions')),
    sa.UniqueConstraint('order_id', name=op.f('uq_promotion_redemptions_order_id')),
    sa.UniqueConstraint('promotion_id', 'once_key',
                        name=op.f('uq_promotion_redemptions_promotion_id_once_key'))
    )

    # not in batch mode: SQLite would copy the table, and cannot copy its generated column
    op.add_column('orders', sa.Column('discount_code', sa.String(length=40), nullable=True))

    with op.batch_alter_table('carts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('promotion_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_carts_promotion_id_promotions'), 'promotions', ['promotion_id'], ['id'], ondelete='SET NULL')



def downgrade():
    op.drop_column('orders', 'discount_code')  # SQLite 3.35+ drops a column in place

    with op.batch_alter_table('carts', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_carts_promotion_id_promotions'), type_='foreignkey')
        batch_op.drop_column('promotion_id')

    op.drop_table('promotion_redemptions')
    op.drop_table('promotions')
