"""treatment_enquiries: customers asking the clinic to arrange a treatment

Revision ID: 0023
Revises: 0022
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('treatment_enquiries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('treatment_id', sa.Integer(), nullable=True),
    sa.Column('treatment_name', sa.String(length=200), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('phone', sa.String(length=40), nullable=False),
    sa.Column('preferred_times', sa.String(length=500), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('handled_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('new', 'contacted', 'closed')", name=op.f('ck_treatment_enquiries_status')),
    sa.ForeignKeyConstraint(['handled_by_id'], ['users.id'], name=op.f('fk_treatment_enquiries_handled_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['treatment_id'], ['treatments.id'], name=op.f('fk_treatment_enquiries_treatment_id_treatments'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_treatment_enquiries_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_treatment_enquiries'))
    )
    with op.batch_alter_table('treatment_enquiries', schema=None) as batch_op:
        batch_op.create_index('ix_treatment_enquiries_status_created_at', ['status', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_treatment_enquiries_user_id'), ['user_id'], unique=False)


def downgrade():
    with op.batch_alter_table('treatment_enquiries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_treatment_enquiries_user_id'))
        batch_op.drop_index('ix_treatment_enquiries_status_created_at')

    op.drop_table('treatment_enquiries')
