"""token_families.device: what a customer's list of sign-ins calls each one

Revision ID: 0020
Revises: 0019
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('token_families', schema=None) as batch_op:
        batch_op.add_column(sa.Column('device', sa.String(length=200), nullable=True))


def downgrade():
    with op.batch_alter_table('token_families', schema=None) as batch_op:
        batch_op.drop_column('device')
