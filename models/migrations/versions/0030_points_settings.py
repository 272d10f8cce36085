"""the points programme's console settings: the expiry reminders' lead days

Revision ID: 0030
Revises: 0027
Create Date: 2026-12-14 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0030"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # No row yet: until an admin first saves the form, the setting points.expiry_reminder_days is the value.
    op.create_table(
        "points_settings",
        sa.Column("id", sa.SmallInteger(), nullable=False),
        sa.Column("expiry_reminder_days", postgresql.ARRAY(sa.Integer()), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_by", sa.String(length=100), nullable=True),
        sa.CheckConstraint("id = 1", name=op.f("ck_points_settings_single_row")),
        sa.CheckConstraint(
            "cardinality(expiry_reminder_days) <= 4", name=op.f("ck_points_settings_at_most_four_leads")
        ),
        sa.CheckConstraint(
            "1 <= ALL(expiry_reminder_days) AND 365 >= ALL(expiry_reminder_days)",
            name=op.f("ck_points_settings_leads_in_range"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_points_settings")),
    )


def downgrade() -> None:
    op.drop_table("points_settings")
