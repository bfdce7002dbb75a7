"""vouchers.source: bought in the shop, given by the clinic, or store credit from a refund

Revision ID: 0037
Revises: 0036
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0037'
down_revision = '0036'
branch_labels = None
depends_on = None

vouchers = sa.table('vouchers', sa.column('id', sa.Integer), sa.column('source', sa.String),
                    sa.column('order_line_id', sa.Integer))
order_refunds = sa.table('order_refunds', sa.column('store_credit_voucher_id', sa.Integer))


def upgrade():
    with op.batch_alter_table('vouchers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source', sa.String(length=20), server_default='purchase',
                                      nullable=False))
        batch_op.create_check_constraint(
            'source', "source IN ('purchase', 'clinic_gift', 'store_credit')")
    # Before this, a voucher was bought (it has its order line), store credit (0036), or made
    # outside the shop
    op.execute(vouchers.update().where(
        vouchers.c.id.in_(sa.select(order_refunds.c.store_credit_voucher_id).where(
            order_refunds.c.store_credit_voucher_id.is_not(None))))
        .values(source='store_credit'))
    op.execute(vouchers.update().where(vouchers.c.order_line_id.is_(None),
                                       vouchers.c.source == 'purchase')
               .values(source='clinic_gift'))


def downgrade():
    with op.batch_alter_table('vouchers', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_vouchers_source'), type_='check')
        batch_op.drop_column('source')
