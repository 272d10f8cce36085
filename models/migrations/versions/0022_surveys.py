"""surveys: definitions (NPS, CSAT, custom questions), sends to members and their answers; what became of a
closed ticket's survey (the send, or why none)

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-09 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "surveys",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("title_en", sa.String(length=200), nullable=False),
        sa.Column("title_zh_cn", sa.String(length=200), nullable=False),
        sa.Column("prompt_en", sa.String(length=500), nullable=False),
        sa.Column("prompt_zh_cn", sa.String(length=500), nullable=False),
        sa.Column("questions", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("comment_required", sa.Boolean(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("kind IN ('nps', 'csat', 'custom')", name=op.f("ck_surveys_kind_known")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_surveys")),
        sa.UniqueConstraint("key", name=op.f("uq_surveys_key")),
    )
    op.create_table(
        "survey_sends",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("survey_id", sa.Uuid(), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("source_id", sa.String(length=255), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "source IN ('journey', 'campaign', 'ticket', 'api')", name=op.f("ck_survey_sends_source_known")
        ),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], name=op.f("fk_survey_sends_member_id_members")),
        sa.ForeignKeyConstraint(["survey_id"], ["surveys.id"], name=op.f("fk_survey_sends_survey_id_surveys")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_sends")),
    )
    op.create_index("ix_survey_sends_member", "survey_sends", ["member_id"])
    op.create_index(
        "uq_survey_sends_origin", "survey_sends", ["survey_id", "member_id", "source", "source_id"], unique=True
    )
    op.create_table(
        "survey_answers",
        sa.Column("send_id", sa.Uuid(), nullable=False),
        sa.Column("survey_id", sa.Uuid(), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("score", sa.Integer(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("answers", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("score IS NULL OR (score >= 0 AND score <= 10)", name=op.f("ck_survey_answers_score_range")),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], name=op.f("fk_survey_answers_member_id_members")),
        sa.ForeignKeyConstraint(["send_id"], ["survey_sends.id"], name=op.f("fk_survey_answers_send_id_survey_sends")),
        sa.ForeignKeyConstraint(["survey_id"], ["surveys.id"], name=op.f("fk_survey_answers_survey_id_surveys")),
        sa.PrimaryKeyConstraint("send_id", name=op.f("pk_survey_answers")),
    )
    op.create_index("ix_survey_answers_survey_answered", "survey_answers", ["survey_id", "answered_at"])
    op.create_index("ix_survey_answers_member", "survey_answers", ["member_id"])
    op.add_column("ticket_surveys_due", sa.Column("survey_send_id", sa.Uuid(), nullable=True))
    op.add_column("ticket_surveys_due", sa.Column("skipped", sa.String(length=40), nullable=True))
    op.create_foreign_key(
        op.f("fk_ticket_surveys_due_survey_send_id_survey_sends"),
        "ticket_surveys_due",
        "survey_sends",
        ["survey_send_id"],
        ["id"],
    )


def downgrade() -> None:
    op.drop_constraint(
        op.f("fk_ticket_surveys_due_survey_send_id_survey_sends"), "ticket_surveys_due", type_="foreignkey"
    )
    op.drop_column("ticket_surveys_due", "skipped")
    op.drop_column("ticket_surveys_due", "survey_send_id")
    op.drop_index("ix_survey_answers_member", table_name="survey_answers")
    op.drop_index("ix_survey_answers_survey_answered", table_name="survey_answers")
    op.drop_table("survey_answers")
    op.drop_index("uq_survey_sends_origin", table_name="survey_sends")
    op.drop_index("ix_survey_sends_member", table_name="survey_sends")
    op.drop_table("survey_sends")
    op.drop_table("surveys")
