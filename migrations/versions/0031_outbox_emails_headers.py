"""outbox_emails.headers: extra header fields of an email (List-Unsubscribe on marketing)

Revision ID: 0031
Revises: 0030
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0031'
down_revision = '0030'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('outbox_emails', sa.Column('headers', sa.JSON(), nullable=True))


def downgrade():
    op.drop_column('outbox_emails', 'headers')  # SQLite 3.35+ drops a column in place
