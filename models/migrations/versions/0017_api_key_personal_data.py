"""api keys: the personal_data permission (may read unmasked personal data), granted to existing admin keys

Revision ID: 0017
Revises: 0019
Create Date: 2026-12-06 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("api_keys", sa.Column("personal_data", sa.Boolean(), server_default=sa.false(), nullable=False))
    op.execute("UPDATE api_keys SET personal_data = true WHERE role = 'admin'")


def downgrade() -> None:
    op.drop_column("api_keys", "personal_data")
