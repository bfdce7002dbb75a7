"""users.email_verified_at: when the owner proved the address

Revision ID: 0024
Revises: 0023
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('users', sa.Column('email_verified_at', sa.DateTime(timezone=True),
                                     nullable=True))


def downgrade():
    op.drop_column('users', 'email_verified_at')  # SQLite 3.35+ drops a column in place
