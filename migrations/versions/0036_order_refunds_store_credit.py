"""order_refunds.store_credit_amount: a refund paid back as a new gift voucher for the customer

Revision ID: 0036
Revises: 0035
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0036'
down_revision = '0035'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('order_refunds', schema=None) as batch_op:
        batch_op.add_column(sa.Column('store_credit_amount', sa.Integer(), server_default='0',
                                      nullable=False))
        batch_op.add_column(sa.Column('store_credit_voucher_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f('fk_order_refunds_store_credit_voucher_id_vouchers'), 'vouchers',
            ['store_credit_voucher_id'], ['id'], ondelete='SET NULL')
        batch_op.drop_constraint(batch_op.f('ck_order_refunds_parts_not_negative'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_order_refunds_parts_add_up'), type_='check')
        batch_op.create_check_constraint(
            'parts_not_negative',
            'card_amount >= 0 AND voucher_amount >= 0 AND store_credit_amount >= 0')
        batch_op.create_check_constraint(
            'parts_add_up', 'card_amount + voucher_amount + store_credit_amount = amount')


def downgrade():
    with op.batch_alter_table('order_refunds', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_order_refunds_parts_add_up'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_order_refunds_parts_not_negative'), type_='check')
        batch_op.create_check_constraint('parts_not_negative',
                                         'card_amount >= 0 AND voucher_amount >= 0')
        batch_op.create_check_constraint('parts_add_up', 'card_amount + voucher_amount = amount')
        batch_op.drop_constraint(batch_op.f('fk_order_refunds_store_credit_voucher_id_vouchers'),
                                 type_='foreignkey')
        batch_op.drop_column('store_credit_voucher_id')
        batch_op.drop_column('store_credit_amount')
