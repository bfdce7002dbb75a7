"""refunds.failed_at: when the bank sent a card refund back (the sales report books it then)

Revision ID: 0032
Revises: 0031
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0032'
down_revision = '0031'
branch_labels = None
depends_on = None

events = sa.table('order_events', sa.column('type', sa.String), sa.column('data', sa.JSON),
                  sa.column('created_at', sa.DateTime(timezone=True)))
refunds = sa.table('refunds', sa.column('stripe_refund_id', sa.String),
                   sa.column('status', sa.String),
                   sa.column('failed_at', sa.DateTime(timezone=True)))


def upgrade():
    op.add_column('refunds', sa.Column('failed_at', sa.DateTime(timezone=True), nullable=True))
    # The order's refund_failed event has recorded when each one failed since it could fail
    bind = op.get_bind()
    for data, created_at in bind.execute(sa.select(events.c.data, events.c.created_at)
                                         .where(events.c.type == 'refund_failed')):
        if (data or {}).get('refund_id'):
            bind.execute(refunds.update().where(
                refunds.c.stripe_refund_id == data['refund_id'],
                refunds.c.status.in_(('failed', 'canceled')), refunds.c.failed_at.is_(None),
            ).values(failed_at=created_at))


def downgrade():
    op.drop_column('refunds', 'failed_at')  # SQLite 3.35+ drops a column in place
