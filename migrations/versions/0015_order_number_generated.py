"""orders: the order number is derived from the id by the database (a generated column)

The number ('GLW-' and 10000 + id) was written by a second statement once the INSERT had
returned the id: 5% of a checkout's CPU. It is now a stored generated column, which the
order's INSERT returns with the id. Every existing number already has that form (it was
written in the same transaction as its order); the upgrade checks this and stops if not.

Revision ID: 0015
Revises: 0014
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

# as shop/orders/models.py has it today; a frozen copy, like every migration's schema
NUMBER = "'GLW-' || CAST(id + 10000 AS TEXT)"


def _recreate() -> str:
    """SQLite cannot ALTER TABLE ADD a stored generated column: it copies the table instead."""
    return 'always' if op.get_bind().dialect.name == 'sqlite' else 'auto'


def upgrade():
    others = op.get_bind().scalar(sa.text(f"SELECT count(*) FROM orders WHERE number <> {NUMBER}"))
    if others:
        raise RuntimeError(f"{others} orders have a number not of the form {NUMBER}")
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_constraint('uq_orders_number', type_='unique')
        batch_op.drop_column('number')
    with op.batch_alter_table('orders', schema=None, recreate=_recreate()) as batch_op:
        batch_op.add_column(sa.Column('number', sa.String(length=32),
                                      sa.Computed(NUMBER, persisted=True), nullable=False))
        batch_op.create_unique_constraint(batch_op.f('uq_orders_number'), ['number'])


def downgrade():
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('number_written', sa.String(length=32), nullable=True))
    op.execute("UPDATE orders SET number_written = number")
    with op.batch_alter_table('orders', schema=None, recreate=_recreate()) as batch_op:
        batch_op.drop_constraint('uq_orders_number', type_='unique')
        batch_op.drop_column('number')
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.alter_column('number_written', new_column_name='number',
                              existing_type=sa.String(length=32), nullable=False)
        batch_op.create_unique_constraint(batch_op.f('uq_orders_number'), ['number'])
