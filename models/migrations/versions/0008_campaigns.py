"""campaigns: campaigns, their member snapshots and enrolment status

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-24 06:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "campaigns",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("segment_id", sa.Uuid(), nullable=False),
        sa.Column("segment_definition", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("journey_kind", sa.String(length=64), nullable=False),
        sa.Column("journey_version", sa.Integer(), nullable=False),
        sa.Column("start_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("recurrence", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("holdout_percent", sa.SmallInteger(), nullable=False),
        sa.Column("send_cap", sa.Integer(), nullable=True),
        sa.Column("attribution_days", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("counters", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'"), nullable=False),
        sa.Column("runs", sa.Integer(), server_default="0", nullable=False),
        sa.Column("cancel_journeys", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("snapshot_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "status IN ('draft', 'scheduled', 'running', 'paused', 'completed', 'cancelled', 'failed')",
            name=op.f("ck_campaigns_status_known"),
        ),
        sa.CheckConstraint("holdout_percent BETWEEN 0 AND 50", name=op.f("ck_campaigns_holdout_range")),
        sa.CheckConstraint("send_cap IS NULL OR send_cap > 0", name=op.f("ck_campaigns_send_cap_positive")),
        sa.CheckConstraint("attribution_days BETWEEN 1 AND 90", name=op.f("ck_campaigns_attribution_range")),
        sa.ForeignKeyConstraint(
            ["segment_id"], ["segments.id"], name=op.f("fk_campaigns_segment_id_segments"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(["journey_kind"], ["journeys.kind"], name=op.f("fk_campaigns_journey_kind_journeys")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaigns")),
    )
    op.create_index(op.f("ix_campaigns_segment_id"), "campaigns", ["segment_id"], unique=False)
    op.create_table(
        "campaign_members",
        sa.Column("campaign_id", sa.Uuid(), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("held_out", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("skip_reason", sa.String(length=32), nullable=True),
        sa.Column("added_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("enrolled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("workflow_id", sa.String(length=255), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'enrolled', 'held_out', 'skipped', 'failed', 'cancelled')",
            name=op.f("ck_campaign_members_status_known"),
        ),
        sa.CheckConstraint(
            "(status = 'held_out') = held_out", name=op.f("ck_campaign_members_held_out_matches_status")
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_campaign_members_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], name=op.f("fk_campaign_members_member_id_members")),
        sa.PrimaryKeyConstraint("campaign_id", "member_id", name=op.f("pk_campaign_members")),
    )
    op.create_index(
        "ix_campaign_members_status", "campaign_members", ["campaign_id", "status", "skip_reason"], unique=False
    )
    # Campaign results count a campaign's messages by status.
    op.create_index(
        "ix_messages_campaign",
        "messages",
        ["campaign_id", "status"],
        unique=False,
        postgresql_where=sa.text("campaign_id IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_messages_campaign", table_name="messages", postgresql_where=sa.text("campaign_id IS NOT NULL"))
    op.drop_index("ix_campaign_members_status", table_name="campaign_members")
    op.drop_table("campaign_members")
    op.drop_index(op.f("ix_campaigns_segment_id"), table_name="campaigns")
    op.drop_table("campaigns")
