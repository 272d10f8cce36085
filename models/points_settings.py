"""The points programme's settings that admins edit in the console: for now the lead days of the expiry
reminders (`points_expiring`). The environment's `points.expiry_reminder_days` is the default until the row
is first saved."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Integer, SmallInteger, String
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, created_at_column


class PointsSettings(Base):
    """One row (id 1), written by the first save: the lead days, longest first (1 to 365 each, at most 4,
    distinct; empty: no reminders)."""

    __tablename__ = "points_settings"
    __table_args__ = (
        CheckConstraint("id = 1", name="single_row"),
        CheckConstraint("cardinality(expiry_reminder_days) <= 4", name="at_most_four_leads"),
        CheckConstraint("1 <= ALL(expiry_reminder_days) AND 365 >= ALL(expiry_reminder_days)", name="leads_in_range"),
    )

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True, default=1)
    expiry_reminder_days: Mapped[list[int]] = mapped_column(ARRAY(Integer))
    updated_at: Mapped[datetime] = created_at_column()
    updated_by: Mapped[str | None] = mapped_column(String(100))
