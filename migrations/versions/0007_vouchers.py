"""vouchers

Revision ID: 0007
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def _variant_voucher_columns():
    """Mark catalogue variants as vouchers. Added in place: no table rebuild on SQLite."""
    fk_name = "fk_product_variants_treatment_id_treatments"
    ck_name = "ck_product_variants_voucher_kind"
    check = (
        "voucher_kind IS NULL OR (voucher_kind = 'money' AND treatment_id IS NULL) "
        "OR (voucher_kind = 'treatment' AND treatment_id IS NOT NULL)"
    )
    if op.get_bind().dialect.name == "sqlite":
        # SQLite cannot add constraints later, only as part of the new column.
        op.execute(
            f"ALTER TABLE product_variants ADD COLUMN treatment_id INTEGER "
            f"CONSTRAINT {fk_name} REFERENCES treatments (id)"
        )
        op.execute(
            f"ALTER TABLE product_variants ADD COLUMN voucher_kind VARCHAR(20) "
            f"CONSTRAINT {ck_name} CHECK ({check})"
        )
    else:
        op.add_column("product_variants", sa.Column("treatment_id", sa.Integer(), nullable=True))
        op.add_column("product_variants", sa.Column("voucher_kind", sa.String(20), nullable=True))
        op.create_check_constraint(ck_name, "product_variants", check)
        op.create_foreign_key(fk_name, "product_variants", "treatments", ["treatment_id"], ["id"])
    op.add_column(
        "product_variants",
        sa.Column("voucher_custom_amount", sa.Boolean(), server_default=sa.false(), nullable=False),
    )


def upgrade():
    _variant_voucher_columns()
    op.create_table(
        "vouchers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("treatment_id", sa.Integer(), nullable=True),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("code_encrypted", sa.String(length=128), nullable=False),
        sa.Column("code_last4", sa.String(length=4), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("initial_amount", sa.Integer(), nullable=False),
        sa.Column("balance_amount", sa.Integer(), nullable=False),
        sa.Column("held_amount", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recipient_name", sa.String(length=200), nullable=False),
        sa.Column("recipient_email", sa.String(length=254), nullable=True),
        sa.Column("purchaser_email", sa.String(length=254), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("send_on", sa.Date(), nullable=True),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("order_line_id", sa.Integer(), nullable=True),
        sa.Column("frozen", sa.Boolean(), nullable=False),
        sa.Column("reminder_sent_days", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('treatment', 'money')", name=op.f("ck_vouchers_kind")),
        sa.CheckConstraint(
            "status IN ('active', 'redeemed', 'expired', 'void')", name=op.f("ck_vouchers_status")
        ),
        sa.CheckConstraint(
            "(kind = 'treatment' AND treatment_id IS NOT NULL) "
            "OR (kind = 'money' AND treatment_id IS NULL)",
            name=op.f("ck_vouchers_treatment_matches_kind"),
        ),
        sa.CheckConstraint("initial_amount >= 0", name=op.f("ck_vouchers_initial_not_negative")),
        sa.CheckConstraint("balance_amount >= 0", name=op.f("ck_vouchers_balance_not_negative")),
        sa.CheckConstraint("held_amount >= 0", name=op.f("ck_vouchers_held_not_negative")),
        sa.CheckConstraint(
            "held_amount <= balance_amount", name=op.f("ck_vouchers_held_within_balance")
        ),
        sa.ForeignKeyConstraint(
            ["treatment_id"], ["treatments.id"], name=op.f("fk_vouchers_treatment_id_treatments")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vouchers")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_vouchers_code_hash")),
        sa.UniqueConstraint("order_line_id", name=op.f("uq_vouchers_order_line_id")),
    )
    op.create_index("ix_vouchers_order_id", "vouchers", ["order_id"], unique=False)
    op.create_index(
        "ix_vouchers_status_expires_at", "vouchers", ["status", "expires_at"], unique=False
    )
    op.create_table(
        "voucher_transactions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("voucher_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("held_change", sa.Integer(), nullable=False),
        sa.Column("balance_after", sa.Integer(), nullable=False),
        sa.Column("held_after", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("staff_user_id", sa.Integer(), nullable=True),
        sa.Column("hold_id", sa.Integer(), nullable=True),
        sa.Column("treatment_id", sa.Integer(), nullable=True),
        sa.Column("top_up_amount", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('issue', 'hold', 'debit', 'release', 'refund_credit', 'void', "
            "'extension', 'redemption', 'top_up', 'freeze', 'unfreeze', 'expiry')",
            name=op.f("ck_voucher_transactions_kind"),
        ),
        sa.CheckConstraint(
            "top_up_amount IS NULL OR top_up_amount > 0",
            name=op.f("ck_voucher_transactions_top_up_positive"),
        ),
        sa.ForeignKeyConstraint(
            ["voucher_id"], ["vouchers.id"],
            name=op.f("fk_voucher_transactions_voucher_id_vouchers"),
        ),
        sa.ForeignKeyConstraint(
            ["staff_user_id"], ["users.id"],
            name=op.f("fk_voucher_transactions_staff_user_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["hold_id"], ["voucher_transactions.id"],
            name=op.f("fk_voucher_transactions_hold_id_voucher_transactions"),
        ),
        sa.ForeignKeyConstraint(
            ["treatment_id"], ["treatments.id"],
            name=op.f("fk_voucher_transactions_treatment_id_treatments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_voucher_transactions")),
        sa.UniqueConstraint("hold_id", name="uq_voucher_transactions_hold_id"),
    )
    op.create_index(
        "ix_voucher_transactions_order_id", "voucher_transactions", ["order_id"], unique=False
    )
    op.create_index(
        "ix_voucher_transactions_voucher_id_id", "voucher_transactions", ["voucher_id", "id"],
        unique=False,
    )

    op.create_table(
        "voucher_line_details",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cart_item_id", sa.Integer(), nullable=True),
        sa.Column("order_line_id", sa.Integer(), nullable=True),
        sa.Column("recipient_name", sa.String(length=200), nullable=False),
        sa.Column("recipient_email", sa.String(length=254), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("send_on", sa.Date(), nullable=True),
        sa.Column("amount", sa.Integer(), nullable=True),
        sa.Column("voucher_kind", sa.String(length=20), nullable=True),
        sa.Column("treatment_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "(cart_item_id IS NULL) <> (order_line_id IS NULL)",
            name=op.f("ck_voucher_line_details_one_line"),
        ),
        sa.CheckConstraint(
            "amount IS NULL OR amount > 0", name=op.f("ck_voucher_line_details_amount_positive")
        ),
        sa.ForeignKeyConstraint(
            ["cart_item_id"], ["cart_items.id"], ondelete="CASCADE",
            name=op.f("fk_voucher_line_details_cart_item_id_cart_items"),
        ),
        sa.ForeignKeyConstraint(
            ["order_line_id"], ["order_lines.id"], ondelete="CASCADE",
            name=op.f("fk_voucher_line_details_order_line_id_order_lines"),
        ),
        sa.ForeignKeyConstraint(
            ["treatment_id"], ["treatments.id"],
            name=op.f("fk_voucher_line_details_treatment_id_treatments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_voucher_line_details")),
        sa.UniqueConstraint("cart_item_id", name=op.f("uq_voucher_line_details_cart_item_id")),
        sa.UniqueConstraint("order_line_id", name=op.f("uq_voucher_line_details_order_line_id")),
    )
    op.create_table(
        "cart_vouchers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cart_id", sa.String(length=64), nullable=False),
        sa.Column("voucher_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["cart_id"], ["carts.id"], ondelete="CASCADE",
            name=op.f("fk_cart_vouchers_cart_id_carts"),
        ),
        sa.ForeignKeyConstraint(
            ["voucher_id"], ["vouchers.id"], ondelete="CASCADE",
            name=op.f("fk_cart_vouchers_voucher_id_vouchers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cart_vouchers")),
        sa.UniqueConstraint(
            "cart_id", "voucher_id", name=op.f("uq_cart_vouchers_cart_id_voucher_id")
        ),
    )
    op.create_index("ix_cart_vouchers_cart_id", "cart_vouchers", ["cart_id"], unique=False)


def downgrade():
    op.drop_table("cart_vouchers")
    op.drop_table("voucher_line_details")
    op.drop_table("voucher_transactions")
    op.drop_table("vouchers")
    if op.get_bind().dialect.name == "sqlite":
        # Columns carrying constraints can only be dropped by rebuilding the table.
        with op.batch_alter_table("product_variants") as batch:
            batch.drop_column("voucher_custom_amount")
            batch.drop_column("treatment_id")
            batch.drop_column("voucher_kind")
        return
    op.drop_constraint(
        "fk_product_variants_treatment_id_treatments", "product_variants", type_="foreignkey"
    )
    op.drop_constraint("ck_product_variants_voucher_kind", "product_variants", type_="check")
    op.drop_column("product_variants", "voucher_custom_amount")
    op.drop_column("product_variants", "treatment_id")
    op.drop_column("product_variants", "voucher_kind")
