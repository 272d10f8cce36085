"""portal: where members sign up from (members.source) and the registration sources staff publish

Revision ID: 0021
Revises: 0018
Create Date: 2026-12-09 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("members", sa.Column("source", sa.String(length=64), nullable=True))
    op.create_index("ix_members_source", "members", ["source"])
    op.create_table(
        "portal_sources",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("kind IN ('channel', 'store')", name=op.f("ck_portal_sources_kind_known")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_sources")),
        sa.UniqueConstraint("code", name=op.f("uq_portal_sources_code")),
    )


def downgrade() -> None:
    op.drop_table("portal_sources")
    op.drop_index("ix_members_source", table_name="members")
    op.drop_column("members", "source")
