"""messages: claimed_by, the send attempt that holds a queued message (it may hand it to the provider)

A send attempt claims the row before it connects and moves it to `sending` only right before the hand-over
(SMTP DATA), so an attempt that dies before that point leaves a claimed `queued` row a retry can take over and
send, instead of a `sending` row whose outcome is unknown.

Revision ID: 0018
Revises: 0020
Create Date: 2026-12-05 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("messages", sa.Column("claimed_by", sa.String(255), nullable=True))


def downgrade() -> None:
    op.drop_column("messages", "claimed_by")
