"""Member journeys: which workflow runs for which member, and how events reach it.

Workflow ids come from business ids (`journey-{kind}-{member_id}`), so a duplicate trigger can never start
a second run. Starts and signals go through the outbox, in the transaction of the change that causes them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models import Member
from services import outbox

JOURNEY_WORKFLOW = "JourneyWorkflow"
EVENT_SIGNAL = "member_event"


def workflow_id(kind: str, member_id: uuid.UUID | str) -> str:
    return f"journey-{kind}-{member_id}"


async def enqueue_trigger(session: AsyncSession, *, kind: str, member_id: uuid.UUID, task_queue: str) -> None:
    await outbox.enqueue_start(
        session,
        workflow_type=JOURNEY_WORKFLOW,
        workflow_id=workflow_id(kind, member_id),
        task_queue=task_queue,
        payload={"member_id": str(member_id), "kind": kind},
        search_attributes={"MemberId": str(member_id), "JourneyKind": kind, "JourneyStep": "start"},
    )


async def enqueue_event(session: AsyncSession, *, kind: str, member_id: uuid.UUID, event_type: str) -> None:
    """Tell a member's running journey of `kind` that an event happened (a no-op if none runs)."""
    await outbox.enqueue_signal(
        session,
        workflow_id=workflow_id(kind, member_id),
        signal_name=EVENT_SIGNAL,
        payload={"type": event_type},
    )


@dataclass(frozen=True)
class MemberJourneyFacts:
    """What a journey needs to decide its next step; ids and counts only, no personal data."""

    exists: bool
    order_count: int
    tier: str | None


async def facts(session: AsyncSession, member_id: uuid.UUID) -> MemberJourneyFacts:
    row = (await session.execute(select(Member.order_count, Member.tier).where(Member.id == member_id))).one_or_none()
    if row is None:
        return MemberJourneyFacts(exists=False, order_count=0, tier=None)
    return MemberJourneyFacts(exists=True, order_count=row.order_count, tier=row.tier)
