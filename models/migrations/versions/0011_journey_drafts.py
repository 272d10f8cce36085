"""journey drafts: the canvas's unpublished work per journey kind, and node positions beside each version

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A nullable column: versions published before the canvas could edit have no positions and are auto-laid out.
    op.add_column("journey_versions", sa.Column("layout", postgresql.JSONB(astext_type=sa.Text()), nullable=True))
    op.create_table(
        "journey_drafts",
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("definition", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("layout", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'"), nullable=False),
        sa.Column("base_version", sa.Integer(), nullable=True),
        sa.Column("updated_by", sa.String(length=100), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("kind", name=op.f("pk_journey_drafts")),
    )


def downgrade() -> None:
    op.drop_table("journey_drafts")
    op.drop_column("journey_versions", "layout")
