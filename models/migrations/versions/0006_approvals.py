"""approvals: the approver inbox; redemption reason and tracking number

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 19:44:25.823306
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "approvals",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("redemption_id", sa.Uuid(), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("escalated", sa.Boolean(), nullable=False),
        sa.Column("requested_by", sa.String(length=100), nullable=True),
        sa.Column("requested_by_key", sa.Uuid(), nullable=True),
        sa.Column("decided_by", sa.String(length=100), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("escalate_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'approved', 'rejected', 'expired', 'withdrawn')",
            name=op.f("ck_approvals_status_known"),
        ),
        sa.ForeignKeyConstraint(
            ["redemption_id"], ["redemptions.id"], name=op.f("fk_approvals_redemption_id_redemptions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_approvals")),
        sa.UniqueConstraint("redemption_id", name=op.f("uq_approvals_redemption_id")),
    )
    op.create_index(op.f("ix_approvals_member_id"), "approvals", ["member_id"], unique=False)
    op.create_index("ix_approvals_status_created", "approvals", ["status", "created_at"], unique=False)
    op.add_column("redemptions", sa.Column("requested_by_key", sa.Uuid(), nullable=True))
    op.add_column("redemptions", sa.Column("reason", sa.String(length=500), nullable=True))
    op.add_column("redemptions", sa.Column("tracking_number", sa.String(length=100), nullable=True))


def downgrade() -> None:
    op.drop_column("redemptions", "tracking_number")
    op.drop_column("redemptions", "reason")
    op.drop_column("redemptions", "requested_by_key")
    op.drop_index("ix_approvals_status_created", table_name="approvals")
    op.drop_index(op.f("ix_approvals_member_id"), table_name="approvals")
    op.drop_table("approvals")
