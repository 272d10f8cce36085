"""Behaviour events from the shop (sign-up, check-in, review, ...): recorded, then evaluated by the rules.

Points for behaviour are rules now (the built-in `award_*` rules, see services.rules.builtins); they run
in this transaction, and a firing's unique keys make a repeat within a limit a no-op, never a second credit."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, field_validator
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.ids import uuid7
from core.timeutil import utc_past
from models import MemberEvent, RuleFiring
from services import challenges, journeys, members, rules

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


async def ingest(session: AsyncSession, data: EventCreate, *, task_queue: str) -> EventOutcome:
    """Record the event and run its rules in this transaction. Past events in bulk go through the history
    import instead (services.imports), which evaluates no rule."""
    # Locked: concurrent events of one member are evaluated one after another (tags, coupons, limits).
    member = await members.get_active(session, data.member_id, for_update=True)
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
    if inserted is None:
        row_id = (
            await session.execute(select(MemberEvent.id).where(MemberEvent.idempotency_key == dedupe_key))
        ).scalar_one()
        return _replayed(row_id, await rules.firings_of_event(session, _event_key(row_id)))
    await challenges.on_event(session, member, data.type.value)
    await journeys.on_event(
        session,
        member,
        data.type.value,
        task_queue=task_queue,
        properties={k: str(v) for k, v in data.properties.items() if k.endswith("_id")},
    )
    evaluation = await rules.evaluate_event(
        session,
        rules.RuleEvent(
            trigger=data.type.value,
            member=member,
            key=_event_key(row_id),
            occurred_at=data.occurred_at,
            properties=data.properties,
            shop_event_id=data.event_id,
            member_locked=True,
        ),
        task_queue=task_queue,
    )
    points = evaluation.points_awarded
    if points > 0:
        return EventOutcome(row_id, False, points, AwardStatus.AWARDED, evaluation.transaction_id)
    status = AwardStatus.ALREADY_AWARDED if evaluation.limited else AwardStatus.NO_AWARD
    return EventOutcome(row_id, False, 0, status, evaluation.transaction_id)


def _event_key(row_id: uuid.UUID) -> str:
    return f"event:{row_id}"


def _replayed(row_id: uuid.UUID, firings: list[RuleFiring]) -> EventOutcome:
    """The same event again: nothing is evaluated; the answer says what its first delivery earned."""
    grants = [r for firing in firings for r in firing.results if r.get("action") == "grant_points"]
    if not grants:
        return EventOutcome(row_id, True, 0, AwardStatus.NO_AWARD, None)
    transaction = next((r["transaction_id"] for r in grants if r.get("transaction_id") is not None), None)
    return EventOutcome(row_id, True, 0, AwardStatus.ALREADY_AWARDED, transaction)
