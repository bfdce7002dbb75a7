"""product_reviews: verified buyers reviewing products, staff approving or rejecting them

Revision ID: 0029
Revises: 0028
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0029'
down_revision = '0028'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('product_reviews',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('rating', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=120), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('author_name', sa.String(length=60), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('rejection_reason', sa.String(length=500), nullable=True),
    sa.Column('moderated_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('moderated_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('pending', 'approved', 'rejected')", name=op.f('ck_product_reviews_status')),
    sa.CheckConstraint('rating BETWEEN 1 AND 5', name=op.f('ck_product_reviews_rating')),
    sa.ForeignKeyConstraint(['moderated_by_id'], ['users.id'], name=op.f('fk_product_reviews_moderated_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_product_reviews_product_id_products'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_product_reviews_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_product_reviews')),
    sa.UniqueConstraint('product_id', 'user_id', name=op.f('uq_product_reviews_product_id_user_id'))
    )
    with op.batch_alter_table('product_reviews', schema=None) as batch_op:
        batch_op.create_index('ix_product_reviews_product_id_status_created_at', ['product_id', 'status', 'created_at'], unique=False)
        batch_op.create_index('ix_product_reviews_status_created_at', ['status', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_product_reviews_user_id'), ['user_id'], unique=False)



def downgrade():
    with op.batch_alter_table('product_reviews', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_product_reviews_user_id'))
        batch_op.drop_index('ix_product_reviews_status_created_at')
        batch_op.drop_index('ix_product_reviews_product_id_status_created_at')

    op.drop_table('product_reviews')
