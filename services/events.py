"""Behaviour events from the shop (sign-up, check-in, review, ...): recorded, and rewarded with points.

Each award has a deterministic ledger key that encodes its limit (once ever, once per local calendar
day, once per review), so a repeat is a replay of the first award and never a second credit."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, field_validator
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.ids import uuid7
from core.settings import get_settings
from core.timeutil import add_months, utc_past
from models import Member, MemberEvent
from services import journeys, ledger, members

MAX_PROPERTIES_BYTES = 8 * 1024


class EventType(StrEnum):
    SIGNED_UP = "signed_up"
    CHECKED_IN = "checked_in"
    PROFILE_COMPLETED = "profile_completed"
    REVIEW_POSTED = "review_posted"
    SHARED = "shared"
    CART_ABANDONED = "cart_abandoned"


def _when(value: datetime) -> datetime:
    return utc_past(value, max_age=timedelta(days=366))


class EventCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    member_id: uuid.UUID
    type: EventType
    occurred_at: Annotated[datetime, AfterValidator(_when)]
    properties: dict[str, Any] = Field(default_factory=dict)
    # The shop's own id for the event: the same id reported twice is recorded once.
    event_id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)] | None = None

    @field_validator("properties")
    @classmethod
    def _small(cls, value: dict[str, Any]) -> dict[str, Any]:
        if len(json.dumps(value, default=str)) > MAX_PROPERTIES_BYTES:
            raise ValueError(f"properties must stay under {MAX_PROPERTIES_BYTES} bytes of JSON")
        return value


class AwardStatus(StrEnum):
    AWARDED = "awarded"
    ALREADY_AWARDED = "already_awarded"  # the limit for this kind of event was reached
    NO_AWARD = "no_award"  # this event type earns nothing


@dataclass(frozen=True)
class EventOutcome:
    event_id: uuid.UUID
    duplicate: bool
    points_awarded: int
    award_status: AwardStatus
    ledger_transaction_id: int | None


def _award_key(member: Member, data: EventCreate, event_row_id: uuid.UUID) -> str:
    local_day = data.occurred_at.astimezone(ZoneInfo(member.timezone)).date().isoformat()
    match data.type:
        case EventType.CHECKED_IN | EventType.SHARED:
            return f"award:{data.type}:{member.id}:{local_day}"
        case EventType.REVIEW_POSTED:
            review = str(data.properties.get("review_id") or data.event_id or event_row_id)
            return f"award:{data.type}:{member.id}:{review}"
        case _:
            return f"award:{data.type}:{member.id}"


async def ingest(session: AsyncSession, data: EventCreate, *, task_queue: str) -> EventOutcome:
    member = await members.get(session, data.member_id)
    row_id = uuid7()
    dedupe_key = f"event:{data.event_id}" if data.event_id else None
    inserted = (
        await session.execute(
            insert(MemberEvent)
            .values(
                id=row_id,
                member_id=member.id,
                type=data.type.value,
                occurred_at=data.occurred_at,
                properties=data.properties,
                idempotency_key=dedupe_key,
            )
            .on_conflict_do_nothing(index_elements=["idempotency_key"])
            .returning(MemberEvent.id)
        )
    ).scalar_one_or_none()
    duplicate = inserted is None
    if duplicate:
        row_id = (
            await session.execute(select(MemberEvent.id).where(MemberEvent.idempotency_key == dedupe_key))
        ).scalar_one()
    if not duplicate:
        await journeys.on_event(
            session,
            member,
            data.type.value,
            task_queue=task_queue,
            properties={k: str(v) for k, v in data.properties.items() if k.endswith("_id")},
        )
    points = get_settings().points.awards.get(data.type.value, 0)
    if points <= 0:
        return EventOutcome(row_id, duplicate, 0, AwardStatus.NO_AWARD, None)
    posting = await ledger.credit(
        session,
        member_id=member.id,
        points=points,
        kind=ledger.TxKind.EARN,
        reason=f"Points for {data.type.value.replace('_', ' ')}",
        idempotency_key=_award_key(member, data, row_id),
        reference=("event", data.type.value),
        expires_at=add_months(data.occurred_at, get_settings().points.expiry_months),
    )
    if posting.replayed:
        return EventOutcome(row_id, duplicate, 0, AwardStatus.ALREADY_AWARDED, posting.transaction_id)
    return EventOutcome(row_id, duplicate, points, AwardStatus.AWARDED, posting.transaction_id)
