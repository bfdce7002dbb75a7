"""payments, cart_vouchers: drop the order_id and cart_id indexes their unique constraints cover

uq_payments_order_id_attempt (order_id, attempt) and uq_cart_vouchers_cart_id_voucher_id
(cart_id, voucher_id) already serve every look-up by their leading column, so the
single-column indexes only cost a write on each INSERT (a checkout's payment row among them).

Revision ID: 0016
Revises: 0015
"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade():
    op.drop_index('ix_payments_order_id', table_name='payments')
    op.drop_index('ix_cart_vouchers_cart_id', table_name='cart_vouchers')


def downgrade():
    op.create_index('ix_cart_vouchers_cart_id', 'cart_vouchers', ['cart_id'], unique=False)
    op.create_index('ix_payments_order_id', 'payments', ['order_id'], unique=False)
