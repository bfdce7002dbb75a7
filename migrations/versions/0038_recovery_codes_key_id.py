"""two_factor_recovery_codes.key_id: which VOUCHER_KEY a recovery code's hash was made with

Revision ID: 0038
Revises: 0037
"""
import sqlalchemy as sa
from alembic import op
from flask import current_app

from shop import crypto

# revision identifiers, used by Alembic.
revision = '0038'
down_revision = '0037'
branch_labels = None
depends_on = None

recovery_codes = sa.table('two_factor_recovery_codes', sa.column('key_id', sa.String))


def upgrade():
    # A plain ADD COLUMN: no batch rebuild on SQLite
    op.add_column('two_factor_recovery_codes', sa.Column('key_id', sa.String(length=16)))
    # Until now there were no fallback keys, so every code that works was made with the
    # VOUCHER_KEY configured for this migration (one made with another key never worked)
    op.execute(recovery_codes.update().values(
        key_id=crypto.key_id(current_app.config['VOUCHER_KEY'])))


def downgrade():
    with op.batch_alter_table('two_factor_recovery_codes', schema=None) as batch_op:
        batch_op.drop_column('key_id')
