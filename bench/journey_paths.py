"""The journey benchmark's counting parts: each built-in journey run to its end on the time-skipping test server
(history events by type, workflow tasks), and the Temporal actions (outbox starts and signals) that a sign-up, a
first order and a second order cause through the real intake services."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHistory

from models import JourneyRun, Message, TemporalOutbox
from services import members
from services.intake import orders, signups
from services.platform import outbox
from workflows import contracts
from workflows.contracts import JourneyOutcome

Sessions = async_sessionmaker[AsyncSession]

# (kind, what happens, event signalled right after the start or None)
PATHS: list[tuple[str, str, str | None]] = [
    ("welcome", "no purchase: brand story, reminder on day 7", None),
    ("welcome", "an order seconds after sign-up", "order_completed"),
    ("first_purchase", "no second order: care tips, cross-sell", None),
    ("win_back", "no return: offer, then a stronger one", None),
    ("tier_upgrade", "congratulations with a coupon", None),
    ("birthday", "09:00 local, greeting, not gold", None),
    ("abandoned_cart", "no order: SMS nudge after 2 hours", None),
]

_COUNTED = {
    "workflow tasks": EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
    "activities": EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED,
    "local activities (markers)": EventType.EVENT_TYPE_MARKER_RECORDED,
    "search-attribute upserts": EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES,
    "timers": EventType.EVENT_TYPE_TIMER_STARTED,
    "signals": EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED,
}


@dataclass
class PathResult:
    kind: str
    what: str
    result: str
    events: int
    counts: dict[str, int]
    sent: list[str] = field(default_factory=list)


def count_history(history: WorkflowHistory) -> tuple[int, dict[str, int]]:
    types = Counter(event.event_type for event in history.events)
    return len(history.events), {name: types[event_type] for name, event_type in _COUNTED.items()}


async def new_member(sessions: Sessions, *, task_queue: str, client: Client | None = None) -> tuple[str, list[str]]:
    """A member with consent on both channels; returns its id and the outbox actions its sign-up wrote. With a
    `client` the sign-up's journey starts are delivered at once, as the API's relay would; without, they stay in
    the outbox (nothing relays them here), so only the runs the benchmark starts itself exist."""
    data = members.MemberCreate(
        external_id=f"bench-{uuid.uuid4().hex[:12]}",
        email=f"bench-{uuid.uuid4().hex[:8]}@example.com",
        phone="+4915112345678",
        consent=members.Consent(email=True, sms=True),
    )
    async with sessions() as session:
        member = await signups.register(session, data, source="bench", task_queue=task_queue)
        actions = await _written(session)
        pending = outbox.take_pending_ids(session)
        await session.commit()
    if client is not None and pending:
        await outbox.dispatch(sessions, client, ids=pending)
    return str(member.id), actions


async def _written(session: AsyncSession) -> list[str]:
    """The Temporal actions this session queued, as "start <workflow id prefix>" / "signal <prefix>"."""
    ids = session.info.get(outbox.PENDING_KEY, [])
    if not ids:
        return []
    rows = (await session.execute(select(TemporalOutbox).where(TemporalOutbox.id.in_(ids)))).scalars().all()
    return [f"{'signal' if row.action == 'signal' else 'start'} {row.workflow_id.rsplit('-', 5)[0]}" for row in rows]


async def run_path(
    client: Client, sessions: Sessions, task_queue: str, kind: str, what: str, event: str | None
) -> PathResult:
    member_id, _ = await new_member(sessions, task_queue=task_queue)
    start = contracts.journey_start(
        contracts.JourneyInput(member_id=member_id, kind=kind), task_queue=task_queue, once=False
    )
    handle = await start.start(client, result_type=JourneyOutcome)
    if event is not None:
        await handle.signal(contracts.MEMBER_EVENT_SIGNAL, contracts.MemberEventSignal(type=event))
    outcome: JourneyOutcome = await handle.result()  # the time-skipping server skips the waits
    events, counts = count_history(await handle.fetch_history())
    async with sessions() as session:
        sent = (
            await session.execute(
                select(Message.template).where(Message.member_id == uuid.UUID(member_id), Message.status == "sent")
            )
        ).scalars()
        templates = sorted(sent)
    return PathResult(kind, what, outcome.result, events, counts, templates)


async def _wait_for_run(
    sessions: Sessions, member_id: str, kind: str, *, step: str | None = None, ended: bool = False
) -> None:
    for _ in range(600):
        async with sessions() as session:
            run = (
                await session.execute(
                    select(JourneyRun)
                    .where(JourneyRun.member_id == uuid.UUID(member_id), JourneyRun.kind == kind)
                    .order_by(JourneyRun.started_at.desc())
                    .limit(1)
                )
            ).scalar_one_or_none()
        if run is not None and (run.status != "running" if ended else run.current_step == step):
            return
        await asyncio.sleep(0.05)
    raise RuntimeError(f"the {kind} run of {member_id} never reached {step or 'its end'}")


async def _order(sessions: Sessions, client: Client, member_id: str, task_queue: str) -> list[str]:
    data = orders.OrderCreate(
        external_id=f"bench-{uuid.uuid4().hex[:12]}",
        member_id=uuid.UUID(member_id),
        amount=Decimal("20.00"),
        currency="EUR",
        placed_at=datetime.now(UTC),
    )
    async with sessions() as session:
        await orders.ingest(session, data, task_queue=task_queue)
        actions = await _written(session)
        pending = outbox.take_pending_ids(session)
        await session.commit()
    await outbox.dispatch(sessions, client, ids=pending)
    return actions


async def business_events(client: Client, sessions: Sessions, task_queue: str) -> dict[str, list[str]]:
    """Sign up (the welcome starts), order once the welcome message is out, order again once the follow-up
    waits: the Temporal actions each of the three queued."""
    member_id, signed_up = await new_member(sessions, task_queue=task_queue, client=client)
    await _wait_for_run(sessions, member_id, "welcome", step="story_delay")
    first = await _order(sessions, client, member_id, task_queue)
    await _wait_for_run(sessions, member_id, "welcome", ended=True)
    await _wait_for_run(sessions, member_id, "first_purchase", step="tips_delay")
    second = await _order(sessions, client, member_id, task_queue)
    return {"sign-up": signed_up, "first order": first, "second order": second}


def describe(actions: list[str]) -> str:
    counted = Counter(actions)
    return ", ".join(f"{n} × {name}" for name, n in sorted(counted.items())) or "none"


def totals(results: list[PathResult]) -> dict[str, Any]:
    return {"events": sum(r.events for r in results), "tasks": sum(r.counts["workflow tasks"] for r in results)}
