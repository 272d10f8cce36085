"""portal: one-time sign-in codes and member sessions, and members found by phone

Revision ID: 0019
Revises: 0016
Create Date: 2026-12-08 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "portal_sign_in_codes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=True),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("address_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("source_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("code_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("channel IN ('email', 'sms')", name=op.f("ck_portal_sign_in_codes_channel_known")),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_portal_sign_in_codes_attempts_not_negative")),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], name=op.f("fk_portal_sign_in_codes_member_id_members")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_sign_in_codes")),
    )
    op.create_index("ix_portal_sign_in_codes_address_created", "portal_sign_in_codes", ["address_hash", "created_at"])
    op.create_index("ix_portal_sign_in_codes_source_created", "portal_sign_in_codes", ["source_hash", "created_at"])
    op.create_index("ix_portal_sign_in_codes_member", "portal_sign_in_codes", ["member_id"])
    op.create_table(
        "portal_sessions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("method", sa.String(length=10), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("method IN ('code', 'link')", name=op.f("ck_portal_sessions_method_known")),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], name=op.f("fk_portal_sessions_member_id_members")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_portal_sessions_token_hash")),
    )
    op.create_index("ix_portal_sessions_member", "portal_sessions", ["member_id"])
    op.create_index("ix_members_phone", "members", ["phone"])


def downgrade() -> None:
    op.drop_index("ix_members_phone", table_name="members")
    op.drop_index("ix_portal_sessions_member", table_name="portal_sessions")
    op.drop_table("portal_sessions")
    op.drop_index("ix_portal_sign_in_codes_member", table_name="portal_sign_in_codes")
    op.drop_index("ix_portal_sign_in_codes_source_created", table_name="portal_sign_in_codes")
    op.drop_index("ix_portal_sign_in_codes_address_created", table_name="portal_sign_in_codes")
    op.drop_table("portal_sign_in_codes")
