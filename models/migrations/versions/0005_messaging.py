"""messaging: the message log and message templates

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "messages",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("message_key", sa.String(length=512), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("template", sa.String(length=64), nullable=False),
        sa.Column("locale", sa.String(length=35), nullable=True),
        sa.Column("category", sa.String(length=20), nullable=False),
        sa.Column("journey_kind", sa.String(length=64), nullable=True),
        sa.Column("campaign_id", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("provider", sa.String(length=20), nullable=True),
        sa.Column("provider_message_id", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "status IN ('queued', 'sending', 'sent', 'delivered', 'suppressed', 'failed')",
            name=op.f("ck_messages_status_known"),
        ),
        sa.CheckConstraint("channel IN ('email', 'sms')", name=op.f("ck_messages_channel_known")),
        sa.CheckConstraint("category IN ('marketing', 'transactional')", name=op.f("ck_messages_category_known")),
        sa.CheckConstraint(
            "(status IN ('sent', 'delivered')) = (sent_at IS NOT NULL)", name=op.f("ck_messages_sent_at_matches_status")
        ),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], name=op.f("fk_messages_member_id_members")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_messages")),
        sa.UniqueConstraint("message_key", name=op.f("uq_messages_message_key")),
    )
    op.create_index("ix_messages_member_created", "messages", ["member_id", "created_at"], unique=False)
    op.create_index("ix_messages_status_created", "messages", ["status", "created_at"], unique=False)
    op.create_table(
        "message_templates",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("locale", sa.String(length=35), nullable=False),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_by", sa.String(length=100), nullable=False),
        sa.CheckConstraint("key ~ '^[a-z0-9_]{2,64}$'", name=op.f("ck_message_templates_key_format")),
        sa.CheckConstraint("channel IN ('email', 'sms')", name=op.f("ck_message_templates_channel_known")),
        sa.CheckConstraint(
            "(channel = 'email') = (subject IS NOT NULL)", name=op.f("ck_message_templates_subject_for_email")
        ),
        sa.PrimaryKeyConstraint("key", "channel", "locale", name=op.f("pk_message_templates")),
    )


def downgrade() -> None:
    op.drop_table("message_templates")
    op.drop_index("ix_messages_status_created", table_name="messages")
    op.drop_index("ix_messages_member_created", table_name="messages")
    op.drop_table("messages")
