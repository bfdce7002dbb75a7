"""users.skin_type and user_skin_concerns: a customer's skin profile

Revision ID: 0030
Revises: 0029
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0030'
down_revision = '0029'
branch_labels = None
depends_on = None

SKIN_TYPE_CHECK = "skin_type IN ('oily', 'combination', 'dry', 'normal', 'sensitive')"


def upgrade():
    if op.get_bind().dialect.name == 'sqlite':
        # SQLite cannot add a constraint later, only with its column (no table rebuild)
        op.execute("ALTER TABLE users ADD COLUMN skin_type VARCHAR(20) "
                   f"CONSTRAINT ck_users_skin_type CHECK ({SKIN_TYPE_CHECK})")
    else:
        op.add_column('users', sa.Column('skin_type', sa.String(length=20), nullable=True))
        op.create_check_constraint(op.f('ck_users_skin_type'), 'users', SKIN_TYPE_CHECK)
    op.create_table('user_skin_concerns',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('concern_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['concern_id'], ['concerns.id'], name=op.f('fk_user_skin_concerns_concern_id_concerns'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_user_skin_concerns_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'concern_id', name=op.f('pk_user_skin_concerns'))
    )
    with op.batch_alter_table('user_skin_concerns', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_user_skin_concerns_concern_id'), ['concern_id'], unique=False)


def downgrade():
    with op.batch_alter_table('user_skin_concerns', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_user_skin_concerns_concern_id'))

    op.drop_table('user_skin_concerns')
    # SQLite 3.35+ drops a column in place with its own CHECK; PostgreSQL drops the CHECK too
    op.drop_column('users', 'skin_type')
