"""outbox: an index of the pending rows by workflow, for the check that a signal waits for its workflow's start

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_temporal_outbox_pending_workflow",
        "temporal_outbox",
        ["workflow_id", "id"],
        postgresql_where=sa.text("dispatched_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index(
        "ix_temporal_outbox_pending_workflow",
        table_name="temporal_outbox",
        postgresql_where=sa.text("dispatched_at IS NULL"),
    )
