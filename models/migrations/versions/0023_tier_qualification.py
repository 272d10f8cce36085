"""tier qualification: the ladder's policy (basis, review rule, drop, grace, at-risk notice), the history of
tier changes, and when each member reached their tier

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-10 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "tier_policy",
        sa.Column("id", sa.SmallInteger(), nullable=False),
        sa.Column("basis", sa.String(length=32), nullable=False),
        sa.Column("window_months", sa.Integer(), nullable=False),
        sa.Column("review_rule", sa.String(length=16), nullable=False),
        sa.Column("review_month", sa.Integer(), nullable=False),
        sa.Column("review_day", sa.Integer(), nullable=False),
        sa.Column("max_drop_per_review", sa.Integer(), nullable=False),
        sa.Column("grace_days", sa.Integer(), nullable=False),
        sa.Column("at_risk_days", sa.Integer(), nullable=False),
        sa.Column("updated_by", sa.String(length=100), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_tier_policy_single_row")),
        sa.CheckConstraint(
            "basis IN ('lifetime_spend', 'rolling_12m_spend', 'points_earned_window')",
            name=op.f("ck_tier_policy_basis_known"),
        ),
        sa.CheckConstraint("review_rule IN ('yearly', 'anniversary')", name=op.f("ck_tier_policy_review_rule_known")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tier_policy")),
    )
    # Today's behaviour: lifetime spend, which never falls, so no review lowers anyone.
    op.execute(
        "INSERT INTO tier_policy (id, basis, window_months, review_rule, review_month, review_day,"
        " max_drop_per_review, grace_days, at_risk_days) VALUES (1, 'lifetime_spend', 12, 'yearly', 1, 1, 1, 0, 30)"
    )
    op.create_table(
        "tier_changes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("old_tier", sa.String(length=32), nullable=False),
        sa.Column("new_tier", sa.String(length=32), nullable=False),
        sa.Column("direction", sa.String(length=4), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("reference_type", sa.String(length=20), nullable=False),
        sa.Column("reference_id", sa.String(length=64), nullable=False),
        sa.Column("review_on", sa.Date(), nullable=True),
        sa.Column("idempotency_key", sa.String(length=255), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("direction IN ('up', 'down')", name=op.f("ck_tier_changes_direction_known")),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], name=op.f("fk_tier_changes_member_id_members")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tier_changes")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_tier_changes_idempotency_key")),
    )
    op.create_index("ix_tier_changes_member_time", "tier_changes", ["member_id", "occurred_at"])
    op.add_column("members", sa.Column("tier_since", sa.DateTime(timezone=True), nullable=True))
    # The upgrades recorded so far: each member's last one is when they reached their tier.
    op.execute(
        "UPDATE members m SET tier_since = e.at FROM (SELECT member_id, max(occurred_at) AS at FROM member_events"
        " WHERE type = 'tier_changed' GROUP BY member_id) e WHERE e.member_id = m.id"
    )


def downgrade() -> None:
    op.drop_column("members", "tier_since")
    op.drop_index("ix_tier_changes_member_time", table_name="tier_changes")
    op.drop_table("tier_changes")
    op.drop_table("tier_policy")
