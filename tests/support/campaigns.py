"""Shared pieces of the campaign tests: members made by SQL, journeys, a tag segment, a worker, a campaign."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.service import RPCError

from core.settings import Settings
from models import Member, TemporalOutbox
from services import campaigns, journeys, segments
from services.journeys.definition import Definition
from services.platform import outbox
from services.platform.audit import Actor
from services.segments import SegmentCreate
from tests.support.helpers import ApiClient
from tests.support.temporal import started_workers
from tests.support.waiting import eventually

Sessions = async_sessionmaker[AsyncSession]

# A journey that waits an hour, so its runs are still going when a test cancels or counts them.
LONG_WAIT = [{"id": "linger", "wait": {"hours": 1}}, {"id": "done", "exit": {}}]


def tag() -> str:
    return f"cmp_{uuid.uuid4().hex[:10]}"


async def add_members(
    sessions: Sessions, count: int, *, tags: list[str], consent_email: bool = True, consent_sms: bool = False
) -> list[uuid.UUID]:
    ids = [uuid.uuid4() for _ in range(count)]
    rows = [
        {
            "id": member_id,
            "external_id": f"cmp-{member_id.hex}",
            "tags": tags,
            "attributes": {},
            "timezone": "UTC",
            "locale": "en",
            "tier": "member",
            "consent_email": consent_email,
            "consent_sms": consent_sms,
            "lifetime_spend": 0,
            "order_count": 0,
        }
        for member_id in ids
    ]
    async with sessions() as session:
        for start in range(0, len(rows), 1000):
            await session.execute(insert(Member), rows[start : start + 1000])
        await session.commit()
    return sorted(ids)


async def add_journey(sessions: Sessions, steps: list[dict[str, Any]] | None = None) -> str:
    """A short journey (tag the member, then end) unless steps are given."""
    kind = f"cj_{uuid.uuid4().hex[:10]}"
    definition = {
        "kind": kind,
        "name": "Campaign test journey",
        "steps": steps or [{"id": "mark", "tag": {"add": ["campaign_reached"]}}, {"id": "done", "exit": {}}],
    }
    async with sessions() as session:
        await journeys.create(session, Definition.model_validate(definition), actor=Actor.system("test"))
        await session.commit()
    return kind


async def add_segment(sessions: Sessions, member_tag: str) -> uuid.UUID:
    async with sessions() as session:
        segment = await segments.create(
            session,
            SegmentCreate(name=f"seg {member_tag}", definition={"tags": {"any": [member_tag]}}),
            actor=Actor.system("test"),
        )
        await session.commit()
        return segment.id


@asynccontextmanager
async def running_workers(client: Client, sessions: Sessions, settings: Settings) -> AsyncIterator[None]:
    """The real workers, and a relay for the campaign outbox rows written while they run."""
    async with started_workers(client, sessions, settings):
        stop = asyncio.Event()
        relay = asyncio.create_task(_relay_campaign_rows(sessions, client, stop))
        try:
            yield
        finally:
            stop.set()
            await relay


async def _relay_campaign_rows(sessions: Sessions, client: Client, stop: asyncio.Event) -> None:
    """What the worker's outbox relay does, limited to campaign rows written while these workers run (the
    test database holds other tests' rows): retry what the API's first delivery could not."""
    async with sessions() as session:
        since = (await session.execute(select(func.now()))).scalar_one()
    while not stop.is_set():
        async with sessions() as session:
            ids = (
                (
                    await session.execute(
                        select(TemporalOutbox.id).where(
                            TemporalOutbox.dispatched_at.is_(None),
                            TemporalOutbox.created_at >= since,
                            TemporalOutbox.workflow_id.like("campaign-%"),
                        )
                    )
                )
                .scalars()
                .all()
            )
        if ids:
            await outbox.dispatch(sessions, client, ids=list(ids))
        try:
            await asyncio.wait_for(stop.wait(), timeout=0.5)
        except TimeoutError:
            pass


async def wait_status(api: ApiClient, campaign_id: str, *statuses: str, timeout: float = 60.0) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    async def reached() -> bool:
        nonlocal seen
        response = await api.get(f"/api/v1/campaigns/{campaign_id}")
        assert response.status_code == 200, response.text
        seen = response.json()
        return seen["status"] in statuses

    try:
        await eventually(reached, timeout=timeout, what=f"campaign status in {statuses}")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; last seen {seen}") from exc
    return seen


async def count_journeys(client: Client, campaign_id: str) -> int:
    query = f'CampaignId = "{campaign_id}" AND WorkflowType = "JourneyWorkflow"'
    return (await client.count_workflows(query)).count


async def create_campaign(
    marketer: ApiClient, sessions: Sessions, members: int, *, steps: list[dict[str, Any]] | None = None, **extra: Any
) -> tuple[str, list[uuid.UUID], str]:
    member_tag = tag()
    ids = await add_members(sessions, members, tags=[member_tag])
    kind = await add_journey(sessions, steps)
    segment_id = await add_segment(sessions, member_tag)
    body = {"name": "Lifecycle", "segment_id": str(segment_id), "journey_kind": kind, **extra}
    response = await marketer.post("/api/v1/campaigns", json=body)
    assert response.status_code == 201, response.text
    return response.json()["id"], ids, member_tag


async def status_counts(sessions: Sessions, campaign_id: str) -> dict[str, int]:
    async with sessions() as session:
        return (await campaigns.progress(session, uuid.UUID(campaign_id))).as_dict()


async def resolves_to(value: Any, expected: int) -> bool:
    return bool(await value == expected)


async def cancel_journeys_of(client: Client, campaign_id: str) -> None:
    """Leave nothing waiting an hour on the shared dev server."""
    async for execution in client.list_workflows(f'CampaignId = "{campaign_id}" AND ExecutionStatus = "Running"'):
        try:
            await client.get_workflow_handle(execution.id).cancel()
        except RPCError:
            pass


async def runs_at_least(api: ApiClient, campaign_id: str, runs: int) -> bool:
    return bool((await api.get(f"/api/v1/campaigns/{campaign_id}")).json()["runs"] >= runs)
