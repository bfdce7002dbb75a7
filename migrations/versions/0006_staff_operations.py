"""staff operations: audit log, catalogue version, low-stock alert state, order refunds

Revision ID: 0006
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('audit_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('actor_email', sa.String(length=254), nullable=False),
    sa.Column('actor_role', sa.String(length=20), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('entity', sa.String(length=40), nullable=False),
    sa.Column('entity_id', sa.String(length=120), nullable=False),
    sa.Column('before', sa.JSON(), nullable=True),
    sa.Column('after', sa.JSON(), nullable=True),
    sa.Column('request_id', sa.String(length=128), nullable=True),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_audit_entries_actor_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_entries'))
    )
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.create_index('ix_audit_entries_actor_id', ['actor_id'], unique=False)
        batch_op.create_index('ix_audit_entries_created_at', ['created_at'], unique=False)
        batch_op.create_index('ix_audit_entries_entity_entity_id', ['entity', 'entity_id'], unique=False)

    op.create_table('catalogue_versions',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_catalogue_versions'))
    )
    op.create_table('low_stock_alerts',
    sa.Column('variant_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('available', sa.Integer(), nullable=False),
    sa.Column('threshold', sa.Integer(), nullable=False),
    sa.Column('alerted_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['variant_id'], ['product_variants.id'], name=op.f('fk_low_stock_alerts_variant_id_product_variants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('variant_id', name=op.f('pk_low_stock_alerts'))
    )
    op.create_table('order_refunds',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('amount', sa.Integer(), nullable=False),
    sa.Column('card_amount', sa.Integer(), nullable=False),
    sa.Column('voucher_amount', sa.Integer(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('restock', sa.Boolean(), nullable=False),
    sa.Column('reason', sa.String(length=255), nullable=False),
    sa.Column('staff_user_id', sa.Integer(), nullable=True),
    sa.Column('payment_refund_id', sa.Integer(), nullable=True),
    sa.Column('stripe_idempotency_key', sa.String(length=255), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('amount > 0', name=op.f('ck_order_refunds_amount_positive')),
    sa.CheckConstraint('card_amount + voucher_amount = amount', name=op.f('ck_order_refunds_parts_add_up')),
    sa.CheckConstraint('card_amount >= 0 AND voucher_amount >= 0', name=op.f('ck_order_refunds_parts_not_negative')),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_order_refunds_order_id_orders'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['payment_refund_id'], ['refunds.id'], name=op.f('fk_order_refunds_payment_refund_id_refunds'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['staff_user_id'], ['users.id'], name=op.f('fk_order_refunds_staff_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_order_refunds'))
    )
    with op.batch_alter_table('order_refunds', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_order_refunds_order_id'), ['order_id'], unique=False)

    op.create_table('order_refund_lines',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('refund_id', sa.Integer(), nullable=False),
    sa.Column('order_line_id', sa.Integer(), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('amount', sa.Integer(), nullable=False),
    sa.CheckConstraint('amount >= 0', name=op.f('ck_order_refund_lines_amount_not_negative')),
    sa.CheckConstraint('quantity > 0', name=op.f('ck_order_refund_lines_quantity_positive')),
    sa.ForeignKeyConstraint(['order_line_id'], ['order_lines.id'], name=op.f('fk_order_refund_lines_order_line_id_order_lines'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['refund_id'], ['order_refunds.id'], name=op.f('fk_order_refund_lines_refund_id_order_refunds'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_order_refund_lines'))
    )
    with op.batch_alter_table('order_refund_lines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_order_refund_lines_order_line_id'), ['order_line_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_order_refund_lines_refund_id'), ['refund_id'], unique=False)


def downgrade():
    with op.batch_alter_table('order_refund_lines', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_order_refund_lines_refund_id'))
        batch_op.drop_index(batch_op.f('ix_order_refund_lines_order_line_id'))

    op.drop_table('order_refund_lines')
    with op.batch_alter_table('order_refunds', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_order_refunds_order_id'))

    op.drop_table('order_refunds')
    op.drop_table('low_stock_alerts')
    op.drop_table('catalogue_versions')
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_entries_entity_entity_id')
        batch_op.drop_index('ix_audit_entries_created_at')
        batch_op.drop_index('ix_audit_entries_actor_id')

    op.drop_table('audit_entries')
