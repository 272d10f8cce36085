"""challenges: definitions, each member's run of one with its progress, the badges completions award; and the
member's latest open-challenge deadline, so the hot paths skip members in no challenge

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-10 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0027"
down_revision: str | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("members", sa.Column("challenges_until", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "challenges",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("title_en", sa.String(length=200), nullable=False),
        sa.Column("title_zh_cn", sa.String(length=200), nullable=False),
        sa.Column("enrolment", sa.String(length=16), nullable=False),
        sa.Column("definition", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("builtin", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint(
            "enrolment IN ('signup', 'window_start', 'opt_in')", name=op.f("ck_challenges_enrolment_known")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_challenges")),
        sa.UniqueConstraint("code", name=op.f("uq_challenges_code")),
    )
    op.create_index("ix_challenges_enrolment_active", "challenges", ["enrolment", "active"])
    op.create_table(
        "member_challenges",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("challenge_id", sa.Uuid(), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("progress", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("enrolled_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reward_transaction_id", sa.BigInteger(), nullable=True),
        sa.Column("coupon_id", sa.Uuid(), nullable=True),
        sa.CheckConstraint(
            "status IN ('active', 'completed', 'failed')", name=op.f("ck_member_challenges_status_known")
        ),
        sa.ForeignKeyConstraint(
            ["challenge_id"], ["challenges.id"], name=op.f("fk_member_challenges_challenge_id_challenges")
        ),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], name=op.f("fk_member_challenges_member_id_members")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_member_challenges")),
        sa.UniqueConstraint("challenge_id", "member_id", "window_start", name="uq_member_challenges_window"),
    )
    op.create_index("ix_member_challenges_member_status", "member_challenges", ["member_id", "status"])
    op.create_index("ix_member_challenges_challenge_status", "member_challenges", ["challenge_id", "status"])
    op.create_table(
        "member_badges",
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name_en", sa.String(length=100), nullable=False),
        sa.Column("name_zh_cn", sa.String(length=100), nullable=False),
        sa.Column("icon", sa.String(length=16), nullable=False),
        sa.Column("member_challenge_id", sa.Uuid(), nullable=False),
        sa.Column("earned_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], name=op.f("fk_member_badges_member_id_members")),
        sa.ForeignKeyConstraint(
            ["member_challenge_id"],
            ["member_challenges.id"],
            name=op.f("fk_member_badges_member_challenge_id_member_challenges"),
        ),
        sa.PrimaryKeyConstraint("member_id", "code", name=op.f("pk_member_badges")),
    )


def downgrade() -> None:
    op.drop_table("member_badges")
    op.drop_index("ix_member_challenges_challenge_status", table_name="member_challenges")
    op.drop_index("ix_member_challenges_member_status", table_name="member_challenges")
    op.drop_table("member_challenges")
    op.drop_index("ix_challenges_enrolment_active", table_name="challenges")
    op.drop_table("challenges")
    op.drop_column("members", "challenges_until")
