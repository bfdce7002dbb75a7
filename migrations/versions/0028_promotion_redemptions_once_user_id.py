"""promotion_redemptions.once_user_id: a once-per-customer code goes once to each account too

Revision ID: 0028
Revises: 0027
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0028'
down_revision = '0027'
branch_labels = None
depends_on = None

# Existing uses count for their account: one of each account's uses of a code, a used one
# (paid) before a held one (whose order may still be cancelled, giving the key up), the
# first of them.
ORDER_USER = "(SELECT o.user_id FROM orders o WHERE o.id = promotion_redemptions.order_id)"
BACKFILL = f"""
UPDATE promotion_redemptions SET once_user_id = {ORDER_USER}
WHERE once_key IS NOT NULL AND id = (
    SELECT r.id FROM promotion_redemptions r JOIN orders o ON o.id = r.order_id
    WHERE r.promotion_id = promotion_redemptions.promotion_id AND r.once_key IS NOT NULL
      AND o.user_id = {ORDER_USER}
    ORDER BY CASE WHEN r.status = 'used' THEN 0 ELSE 1 END, r.id LIMIT 1)
"""


def upgrade():
    with op.batch_alter_table('promotion_redemptions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('once_user_id', sa.Integer(), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_promotion_redemptions_promotion_id_once_user_id'), ['promotion_id', 'once_user_id'])
        batch_op.create_foreign_key(batch_op.f('fk_promotion_redemptions_once_user_id_users'), 'users', ['once_user_id'], ['id'], ondelete='SET NULL')
    op.execute(BACKFILL)


def downgrade():
    with op.batch_alter_table('promotion_redemptions', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_promotion_redemptions_once_user_id_users'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('uq_promotion_redemptions_promotion_id_once_user_id'), type_='unique')
        batch_op.drop_column('once_user_id')
