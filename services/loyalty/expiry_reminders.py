"""The lead days of the expiry reminders: how many days before a date on which a member's points expire the
daily scan records `points_expiring` (services.intake.calendar). Admins edit them in the console; until the
first save, the setting `points.expiry_reminder_days` (MEMBERFLOW_POINTS__EXPIRY_REMINDER_DAYS) is the value,
so a deployment that configured its leads keeps them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.settings import get_settings
from models import PointsSettings
from services.platform import audit
from services.platform.audit import Actor

MAX_LEADS = 4
MAX_LEAD_DAYS = 365


class RemindersUpdate(BaseModel):
    """The whole list, replaced at once; an empty list sends no reminders."""

    model_config = ConfigDict(extra="forbid")

    days: list[int] = Field(max_length=MAX_LEADS, description="lead days, 1 to 365 each, distinct")

    @field_validator("days")
    @classmethod
    def _distinct_in_range(cls, value: list[int]) -> list[int]:
        if any(not 1 <= days <= MAX_LEAD_DAYS for days in value):
            raise ValueError(f"each lead is 1 to {MAX_LEAD_DAYS} days")
        if len(set(value)) != len(value):
            raise ValueError("each lead may be given once")
        return sorted(value, reverse=True)


@dataclass(frozen=True)
class Reminders:
    """The leads in force, longest first, and where they come from (`setting` until an admin saves them)."""

    days: list[int]
    source: str  # "console" or "setting"
    updated_at: datetime | None = None
    updated_by: str | None = None


def _default() -> list[int]:
    return sorted(set(get_settings().points.expiry_reminder_days), reverse=True)


async def current(session: AsyncSession) -> Reminders:
    row = (await session.execute(select(PointsSettings).where(PointsSettings.id == 1))).scalar_one_or_none()
    if row is None:
        return Reminders(days=_default(), source="setting")
    return Reminders(list(row.expiry_reminder_days), "console", row.updated_at, row.updated_by)


async def leads(session: AsyncSession) -> list[int]:
    """What the daily scan uses."""
    return (await current(session)).days


async def update(session: AsyncSession, data: RemindersUpdate, *, actor: Actor) -> Reminders:
    """Save the leads (the first save writes the row) and audit the change once, before and after."""
    before = await current(session)
    await session.execute(
        insert(PointsSettings)
        .values(id=1, expiry_reminder_days=data.days, updated_by=actor.name)
        .on_conflict_do_update(
            index_elements=["id"],
            set_={"expiry_reminder_days": data.days, "updated_by": actor.name, "updated_at": func.now()},
        )
    )
    await audit.record(
        session,
        actor,
        action="points_settings.update",
        target_type="points_settings",
        target_id="expiry_reminders",
        details={"before": {"expiry_reminder_days": before.days}, "after": {"expiry_reminder_days": data.days}},
    )
    return Reminders(data.days, "console", updated_by=actor.name)
