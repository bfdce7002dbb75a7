"""category status: categories can be archived

Revision ID: 0009
Revises: 0008
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('categories', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('status', sa.String(length=20), server_default='active', nullable=False)
        )
        batch_op.create_check_constraint(
            op.f('ck_categories_status'), "status IN ('active', 'archived')"
        )


def downgrade():
    with op.batch_alter_table('categories', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_categories_status'), type_='check')
        batch_op.drop_column('status')
