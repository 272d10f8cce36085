"""checkouts: points as a means of payment at the shop (the programme's rate and limits, one row; each
checkout's hold, capture, release or expiry) and the points a refund gave back

Revision ID: 0025
Revises: 0022
Create Date: 2026-12-10 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "checkout_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("points_per_unit", sa.Integer(), nullable=False),
        sa.Column("unit_value", sa.Numeric(10, 2), nullable=False),
        sa.Column("max_percent", sa.Integer(), nullable=False),
        sa.Column("min_points", sa.BigInteger(), nullable=False),
        sa.Column("hold_minutes", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_by", sa.String(length=100), nullable=True),
        sa.CheckConstraint("id = 1", name=op.f("ck_checkout_settings_single_row")),
        sa.CheckConstraint("points_per_unit > 0", name=op.f("ck_checkout_settings_rate_positive")),
        sa.CheckConstraint("unit_value > 0", name=op.f("ck_checkout_settings_unit_value_positive")),
        sa.CheckConstraint("max_percent >= 1 AND max_percent <= 100", name=op.f("ck_checkout_settings_cap_in_range")),
        sa.CheckConstraint("min_points >= 0", name=op.f("ck_checkout_settings_minimum_not_negative")),
        sa.CheckConstraint(
            "hold_minutes >= 1 AND hold_minutes <= 1440", name=op.f("ck_checkout_settings_hold_in_range")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_checkout_settings")),
    )
    # The programme's defaults: 100 points = 1.00 CNY, at most half an order, at least 500 points, 30 minutes.
    op.execute(
        "INSERT INTO checkout_settings (id, enabled, currency, points_per_unit, unit_value, max_percent, min_points, "
        "hold_minutes, updated_by) VALUES (1, true, 'CNY', 100, 1.00, 50, 500, 30, 'migration 0025')"
    )
    op.create_table(
        "checkouts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("external_id", sa.String(length=128), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("order_amount", sa.Numeric(14, 2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("value", sa.Numeric(14, 2), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("hold_id", sa.Uuid(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=True),
        sa.Column("points_refunded", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("points > 0", name=op.f("ck_checkouts_points_positive")),
        sa.CheckConstraint(
            "status IN ('held', 'captured', 'released', 'expired')", name=op.f("ck_checkouts_status_known")
        ),
        sa.CheckConstraint(
            "points_refunded >= 0 AND points_refunded <= points", name=op.f("ck_checkouts_refund_within_points")
        ),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], name=op.f("fk_checkouts_member_id_members")),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name=op.f("fk_checkouts_order_id_orders")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_checkouts")),
        sa.UniqueConstraint("external_id", name=op.f("uq_checkouts_external_id")),
        sa.UniqueConstraint("hold_id", name=op.f("uq_checkouts_hold_id")),
        sa.UniqueConstraint("order_id", name=op.f("uq_checkouts_order_id")),
    )
    op.create_index("ix_checkouts_member_open", "checkouts", ["member_id"], postgresql_where=sa.text("status = 'held'"))
    op.add_column("order_refunds", sa.Column("points_returned", sa.BigInteger(), server_default="0", nullable=False))


def downgrade() -> None:
    op.drop_column("order_refunds", "points_returned")
    op.drop_index("ix_checkouts_member_open", table_name="checkouts")
    op.drop_table("checkouts")
    op.drop_table("checkout_settings")
