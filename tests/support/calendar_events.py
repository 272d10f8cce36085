"""Helpers for the calendar's events (points_expiring, signup_anniversary): the daily rule scan run as its
schedule runs it, and the events it recorded for a member."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from sqlalchemy import select
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from activities.rules import RuleActivities, RuleScanInput, RuleScanResult
from models import MemberEvent
from tests.support.rules import Sessions


async def scan(
    temporal_dev: WorkflowEnvironment, sessions: Sessions, today: date, *, task_queue: str | None = None
) -> RuleScanResult:
    """The rules' daily scan for `today`; the journeys it starts go to `task_queue` (a fresh, idle one unless
    given)."""
    env = ActivityEnvironment(client=temporal_dev.client)
    result: RuleScanResult = await env.run(
        RuleActivities(sessions).daily_scan, RuleScanInput(today=today, task_queue=task_queue or f"tq-{uuid.uuid4()}")
    )
    return result


async def events_of(sessions: Sessions, member_id: uuid.UUID, kind: str) -> list[dict[str, Any]]:
    """The properties of the member's `kind` events, oldest first."""
    async with sessions() as session:
        rows = await session.execute(
            select(MemberEvent.properties)
            .where(MemberEvent.member_id == member_id, MemberEvent.type == kind)
            .order_by(MemberEvent.created_at, MemberEvent.id)
        )
        return [dict(row) for row in rows.scalars()]
