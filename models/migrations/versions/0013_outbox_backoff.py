"""outbox: per-row backoff and parking, so rows that keep failing never block the rows behind them

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("temporal_outbox", sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("temporal_outbox", sa.Column("parked_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("temporal_outbox", "parked_at")
    op.drop_column("temporal_outbox", "next_attempt_at")
