"""segments: saved member filters and the indexes their preview needs

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24 06:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "segments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("definition", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segments")),
        sa.UniqueConstraint("name", name=op.f("uq_segments_name")),
    )
    # Segment filters on tags (&&, @>), attributes (@>, ?) and signup date; see models/segments.py for why
    # the purchase aggregates are deliberately not indexed.
    op.create_index("ix_members_tags", "members", ["tags"], unique=False, postgresql_using="gin")
    op.create_index("ix_members_attributes", "members", ["attributes"], unique=False, postgresql_using="gin")
    op.create_index("ix_members_created_at", "members", ["created_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_members_created_at", table_name="members")
    op.drop_index("ix_members_attributes", table_name="members", postgresql_using="gin")
    op.drop_index("ix_members_tags", table_name="members", postgresql_using="gin")
    op.drop_table("segments")
