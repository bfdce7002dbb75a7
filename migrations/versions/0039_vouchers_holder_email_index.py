"""vouchers: an index on the address a voucher's email goes to, for a customer's GET /me/vouchers

Revision ID: 0039
Revises: 0038
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0039'
down_revision = '0038'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_vouchers_holder_email', 'vouchers',
                    [sa.text('lower(coalesce(recipient_email, purchaser_email))')])


def downgrade():
    op.drop_index('ix_vouchers_holder_email', table_name='vouchers')
