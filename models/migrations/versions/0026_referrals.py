"""referrals: the programme's settings row, members' referral codes and the referrals they made

Revision ID: 0026
Revises: 0022
Create Date: 2026-12-12 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _programme() -> None:
    op.create_table(
        "referral_programme",
        sa.Column("id", sa.SmallInteger(), server_default="1", nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("return_window_days", sa.Integer(), server_default="14", nullable=False),
        sa.Column("monthly_limit", sa.Integer(), server_default="10", nullable=False),
        sa.Column("referrer_reward", sa.String(length=8), server_default="points", nullable=False),
        sa.Column("referrer_points", sa.Integer(), server_default="500", nullable=False),
        sa.Column("referrer_coupon", sa.String(length=64), nullable=True),
        sa.Column("referee_reward", sa.String(length=8), server_default="points", nullable=False),
        sa.Column("referee_points", sa.Integer(), server_default="200", nullable=False),
        sa.Column("referee_coupon", sa.String(length=64), nullable=True),
        sa.Column("updated_by", sa.String(length=100), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_referral_programme_single_row")),
        sa.CheckConstraint("return_window_days BETWEEN 0 AND 365", name=op.f("ck_referral_programme_window_in_range")),
        sa.CheckConstraint("monthly_limit BETWEEN 1 AND 10000", name=op.f("ck_referral_programme_limit_in_range")),
        sa.CheckConstraint(
            "referrer_reward IN ('points', 'coupon')", name=op.f("ck_referral_programme_referrer_reward_known")
        ),
        sa.CheckConstraint(
            "referee_reward IN ('points', 'coupon')", name=op.f("ck_referral_programme_referee_reward_known")
        ),
        sa.CheckConstraint(
            "referrer_points >= 0 AND referee_points >= 0", name=op.f("ck_referral_programme_points_not_negative")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referral_programme")),
    )
    op.execute("INSERT INTO referral_programme (id) VALUES (1)")


def upgrade() -> None:
    _programme()
    op.create_table(
        "referral_codes",
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("referral_code", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], name=op.f("fk_referral_codes_member_id_members")),
        sa.PrimaryKeyConstraint("member_id", name=op.f("pk_referral_codes")),
        sa.UniqueConstraint("referral_code", name=op.f("uq_referral_codes_referral_code")),
    )
    op.create_table(
        "referrals",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("referrer_id", sa.Uuid(), nullable=False),
        sa.Column("referee_id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("email_digest", sa.LargeBinary(length=32), nullable=True),
        sa.Column("phone_digest", sa.LargeBinary(length=32), nullable=True),
        sa.Column("order_id", sa.Uuid(), nullable=True),
        sa.Column("qualified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancel_reason", sa.String(length=32), nullable=True),
        sa.Column("referrer_points", sa.Integer(), nullable=False),
        sa.Column("referee_points", sa.Integer(), nullable=False),
        sa.Column("referrer_coupon_id", sa.Uuid(), nullable=True),
        sa.Column("referee_coupon_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint(
            "status IN ('linked', 'qualifying', 'rewarded', 'cancelled')", name=op.f("ck_referrals_status_known")
        ),
        sa.CheckConstraint("referrer_id <> referee_id", name=op.f("ck_referrals_not_self")),
        sa.ForeignKeyConstraint(["referrer_id"], ["members.id"], name=op.f("fk_referrals_referrer_id_members")),
        sa.ForeignKeyConstraint(["referee_id"], ["members.id"], name=op.f("fk_referrals_referee_id_members")),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name=op.f("fk_referrals_order_id_orders")),
        sa.ForeignKeyConstraint(
            ["referrer_coupon_id"], ["coupons.id"], name=op.f("fk_referrals_referrer_coupon_id_coupons")
        ),
        sa.ForeignKeyConstraint(
            ["referee_coupon_id"], ["coupons.id"], name=op.f("fk_referrals_referee_coupon_id_coupons")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referrals")),
        sa.UniqueConstraint("referee_id", name=op.f("uq_referrals_referee_id")),
        sa.UniqueConstraint("email_digest", name=op.f("uq_referrals_email_digest")),
        sa.UniqueConstraint("phone_digest", name=op.f("uq_referrals_phone_digest")),
    )
    op.create_index("ix_referrals_referrer_created", "referrals", ["referrer_id", "created_at"])
    op.create_index("ix_referrals_order", "referrals", ["order_id"])


def downgrade() -> None:
    op.drop_index("ix_referrals_order", table_name="referrals")
    op.drop_index("ix_referrals_referrer_created", table_name="referrals")
    op.drop_table("referrals")
    op.drop_table("referral_codes")
    op.drop_table("referral_programme")
