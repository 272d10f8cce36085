"""paid membership plans, the memberships members buy, and the periods each plan order paid for

Revision ID: 0028
Revises: 0022
Create Date: 2026-12-10 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0028"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "plans",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name_en", sa.String(length=100), nullable=False),
        sa.Column("name_zh_cn", sa.String(length=100), nullable=False),
        sa.Column("price", sa.Numeric(14, 2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("sku", sa.String(length=100), nullable=False),
        sa.Column("term_months", sa.Integer(), nullable=False),
        sa.Column("earn_multiplier", sa.Numeric(5, 2), nullable=False),
        sa.Column("monthly_coupon", sa.String(length=64), nullable=True),
        sa.Column("free_shipping", sa.Boolean(), nullable=False),
        sa.Column("refund_on_cancel", sa.String(length=16), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("code ~ '^[a-z][a-z0-9_]{1,63}$'", name=op.f("ck_plans_code_format")),
        sa.CheckConstraint("price > 0", name=op.f("ck_plans_price_positive")),
        sa.CheckConstraint("term_months BETWEEN 1 AND 60", name=op.f("ck_plans_term_in_range")),
        sa.CheckConstraint("earn_multiplier >= 1 AND earn_multiplier <= 10", name=op.f("ck_plans_multiplier_in_range")),
        sa.CheckConstraint("refund_on_cancel IN ('proportional', 'none')", name=op.f("ck_plans_refund_known")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plans")),
        sa.UniqueConstraint("code", name=op.f("uq_plans_code")),
        sa.UniqueConstraint("sku", name=op.f("uq_plans_sku")),
    )
    op.create_table(
        "memberships",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("plan_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("renewals", sa.Integer(), nullable=False),
        sa.Column("renewed_from_id", sa.Uuid(), nullable=True),
        sa.Column("refund_amount", sa.Numeric(14, 2), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("status IN ('active', 'ended', 'cancelled')", name=op.f("ck_memberships_status_known")),
        sa.CheckConstraint("ends_at > started_at", name=op.f("ck_memberships_ends_after_start")),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], name=op.f("fk_memberships_member_id_members")),
        sa.ForeignKeyConstraint(["plan_id"], ["plans.id"], name=op.f("fk_memberships_plan_id_plans")),
        sa.ForeignKeyConstraint(
            ["renewed_from_id"], ["memberships.id"], name=op.f("fk_memberships_renewed_from_id_memberships")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_memberships")),
    )
    op.create_index(
        "uq_memberships_active_plan",
        "memberships",
        ["member_id", "plan_id"],
        unique=True,
        postgresql_where=sa.text("status = 'active'"),
    )
    op.create_index("ix_memberships_member", "memberships", ["member_id"])
    op.create_table(
        "membership_periods",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("membership_id", sa.Uuid(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("amount", sa.Numeric(14, 2), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("kind IN ('start', 'renewal')", name=op.f("ck_membership_periods_kind_known")),
        sa.ForeignKeyConstraint(
            ["membership_id"], ["memberships.id"], name=op.f("fk_membership_periods_membership_id_memberships")
        ),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name=op.f("fk_membership_periods_order_id_orders")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_membership_periods")),
        sa.UniqueConstraint("order_id", name=op.f("uq_membership_periods_order_id")),
    )
    op.create_index("ix_membership_periods_membership_id", "membership_periods", ["membership_id"])


def downgrade() -> None:
    op.drop_table("membership_periods")
    op.drop_index("ix_memberships_member", table_name="memberships")
    op.drop_index("uq_memberships_active_plan", table_name="memberships")
    op.drop_table("memberships")
    op.drop_table("plans")
