"""coupons: templates and issued coupons

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 09:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "coupon_templates",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("value", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("min_spend", sa.Numeric(precision=14, scale=2), server_default="0", nullable=False),
        sa.Column("validity_days", sa.Integer(), nullable=False),
        sa.Column("per_member_limit", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("code ~ '^[a-z0-9_]{2,64}$'", name=op.f("ck_coupon_templates_code_format")),
        sa.CheckConstraint("kind IN ('percent', 'amount')", name=op.f("ck_coupon_templates_kind_known")),
        sa.CheckConstraint(
            "value > 0 AND (kind <> 'percent' OR value <= 100)", name=op.f("ck_coupon_templates_value_in_range")
        ),
        sa.CheckConstraint("min_spend >= 0", name=op.f("ck_coupon_templates_min_spend_not_negative")),
        sa.CheckConstraint("validity_days BETWEEN 1 AND 3650", name=op.f("ck_coupon_templates_validity_days_in_range")),
        sa.CheckConstraint(
            "per_member_limit IS NULL OR per_member_limit >= 1",
            name=op.f("ck_coupon_templates_per_member_limit_positive"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coupon_templates")),
        sa.UniqueConstraint("code", name=op.f("uq_coupon_templates_code")),
    )
    op.create_table(
        "coupons",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("template_id", sa.Uuid(), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("redeemed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("redeemed_order_ref", sa.String(length=128), nullable=True),
        sa.Column("issue_key", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("status IN ('issued', 'redeemed', 'expired')", name=op.f("ck_coupons_status_known")),
        sa.CheckConstraint("expires_at > issued_at", name=op.f("ck_coupons_expires_after_issue")),
        sa.CheckConstraint(
            "(status = 'redeemed') = (redeemed_at IS NOT NULL)", name=op.f("ck_coupons_redeemed_at_matches_status")
        ),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], name=op.f("fk_coupons_member_id_members")),
        sa.ForeignKeyConstraint(
            ["template_id"], ["coupon_templates.id"], name=op.f("fk_coupons_template_id_coupon_templates")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coupons")),
        sa.UniqueConstraint("code", name=op.f("uq_coupons_code")),
        sa.UniqueConstraint("issue_key", name=op.f("uq_coupons_issue_key")),
    )
    op.create_index("ix_coupons_member_template", "coupons", ["member_id", "template_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_coupons_member_template", table_name="coupons")
    op.drop_table("coupons")
    op.drop_table("coupon_templates")
