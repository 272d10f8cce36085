"""journeys: versioned definitions, runs, staff tasks

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 19:00:14.373673
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "journey_runs",
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("workflow_id", sa.String(length=255), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("current_step", sa.String(length=64), nullable=False),
        sa.Column("steps", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'"), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_journey_runs")),
    )
    op.create_index("ix_journey_runs_kind_step", "journey_runs", ["kind", "status", "current_step"], unique=False)
    op.create_index("ix_journey_runs_member", "journey_runs", ["member_id", "started_at"], unique=False)
    op.create_index(op.f("ix_journey_runs_workflow_id"), "journey_runs", ["workflow_id"], unique=False)
    op.create_table(
        "journeys",
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("current_version", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("builtin", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("kind", name=op.f("pk_journeys")),
    )
    op.create_table(
        "journey_versions",
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("definition", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["kind"], ["journeys.kind"], name=op.f("fk_journey_versions_kind_journeys")),
        sa.PrimaryKeyConstraint("kind", "version", name=op.f("pk_journey_versions")),
    )
    op.create_table(
        "staff_tasks",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("assignee_role", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("source_key", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("done_by", sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], name=op.f("fk_staff_tasks_member_id_members")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_tasks")),
        sa.UniqueConstraint("source_key", name=op.f("uq_staff_tasks_source_key")),
    )
    op.create_index(op.f("ix_staff_tasks_member_id"), "staff_tasks", ["member_id"], unique=False)
    op.create_index("ix_staff_tasks_open", "staff_tasks", ["status", "due_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_staff_tasks_open", table_name="staff_tasks")
    op.drop_index(op.f("ix_staff_tasks_member_id"), table_name="staff_tasks")
    op.drop_table("staff_tasks")
    op.drop_table("journey_versions")
    op.drop_table("journeys")
    op.drop_index(op.f("ix_journey_runs_workflow_id"), table_name="journey_runs")
    op.drop_index("ix_journey_runs_member", table_name="journey_runs")
    op.drop_index("ix_journey_runs_kind_step", table_name="journey_runs")
    op.drop_table("journey_runs")
