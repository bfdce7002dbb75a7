"""stripe_customer_syncs: name and email changes, and account deletions, for Stripe Customers

Revision ID: 0019
Revises: 0018
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('stripe_customer_syncs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=10), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_error', sa.String(length=500), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("action IN ('update', 'delete')",
                       name=op.f('ck_stripe_customer_syncs_action')),
    sa.CheckConstraint("status IN ('pending', 'done', 'failed')",
                       name=op.f('ck_stripe_customer_syncs_status')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'],
                            name=op.f('fk_stripe_customer_syncs_user_id_users'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stripe_customer_syncs'))
    )
    with op.batch_alter_table('stripe_customer_syncs', schema=None) as batch_op:
        batch_op.create_index('ix_stripe_customer_syncs_status_next_attempt_at',
                              ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_stripe_customer_syncs_user_id'), ['user_id'],
                              unique=False)


def downgrade():
    with op.batch_alter_table('stripe_customer_syncs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stripe_customer_syncs_user_id'))
        batch_op.drop_index('ix_stripe_customer_syncs_status_next_attempt_at')
    op.drop_table('stripe_customer_syncs')
