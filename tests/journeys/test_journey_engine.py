"""What a journey run costs and when exit events apply: `exit_from` is validated and brought to stored welcomes,
events reach only runs that may be live, and no run starts that would exit at once. Service-level tests run in
a transaction that is rolled back, so the shared built-ins stay as they are."""

from __future__ import annotations

import copy
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest_asyncio
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models import JourneyRun, Member, TemporalOutbox
from services import journeys, members
from services.journeys.builtins import BUILTIN_JOURNEYS, SHIPPED_BEFORE
from services.journeys.definition import Definition, stored
from services.platform import outbox
from services.platform.api_keys import Role
from services.platform.audit import Actor
from tests.support.helpers import KeyMaker, role_client
from workflows import contracts

Sessions = async_sessionmaker[AsyncSession]


def _welcome() -> dict[str, Any]:
    return copy.deepcopy(next(j for j in BUILTIN_JOURNEYS if j["kind"] == "welcome"))


@pytest_asyncio.fixture
async def session(sessions: Sessions) -> AsyncIterator[AsyncSession]:
    async with sessions() as session:
        try:
            yield session
        finally:
            await session.rollback()


async def _member(session: AsyncSession) -> Member:
    data = members.MemberCreate(external_id=f"engine-{uuid.uuid4().hex[:12]}", email="engine@example.com")
    return await members.create(session, data, source="test")


async def _queued(session: AsyncSession) -> list[tuple[str, str]]:
    """(action, workflow id) of the outbox rows this session queued since the last call."""
    ids = outbox.take_pending_ids(session)
    rows = (await session.execute(select(TemporalOutbox).where(TemporalOutbox.id.in_(ids)))).scalars().all()
    return sorted((row.action, row.workflow_id) for row in rows)


def _run(member: Member, kind: str, status: str, at: datetime) -> JourneyRun:
    return JourneyRun(
        run_id=str(uuid.uuid4()),
        workflow_id=contracts.journey_workflow_id(kind, member.id),
        member_id=member.id,
        kind=kind,
        version=1,
        status=status,
        current_step="x",
        steps=[],
        started_at=at,
        updated_at=at,
        ended_at=None if status == "running" else at,
    )


# --- exit_from ---------------------------------------------------------------------------------------------


async def test_exit_from_must_name_a_step_and_needs_exit_events(http: httpx.AsyncClient, make_key: KeyMaker) -> None:
    marketer = await role_client(http, make_key, Role.MARKETER)
    nowhere = _welcome() | {"kind": "exit_from_nowhere", "exit_from": "nowhere"}
    result = (await marketer.post("/api/v1/journeys/validate", json=nowhere)).json()
    assert {p["field"]: p["message"] for p in result["problems"]} == {"body.exit_from": "no step has the id 'nowhere'"}
    pointless = _welcome() | {"kind": "exit_from_alone", "exit_on": []}
    result = (await marketer.post("/api/v1/journeys/validate", json=pointless)).json()
    assert [p["field"] for p in result["problems"]] == ["body.exit_from"]
    bad_id = _welcome() | {"kind": "exit_from_bad", "exit_from": "Not An Id"}
    result = (await marketer.post("/api/v1/journeys/validate", json=bad_id)).json()
    assert [p["field"] for p in result["problems"]] == ["body.exit_from"]


def test_the_built_in_welcome_exits_on_a_purchase_only_after_its_message() -> None:
    welcome = Definition.model_validate(_welcome())
    assert welcome.exit_on == ["order_completed"]
    assert welcome.exit_from == "story_delay"
    assert [step.id for step in welcome.steps[:2]] == ["welcome_message", "story_delay"]
    assert "exit_from" not in stored(Definition.model_validate(SHIPPED_BEFORE["welcome"][0]))


async def test_seeding_brings_an_unedited_stored_welcome_up_to_date_and_leaves_an_edited_one(
    session: AsyncSession,
) -> None:
    await journeys.seed_builtins(session)
    old = Definition.model_validate(SHIPPED_BEFORE["welcome"][0])
    actor = Actor.system("test")
    before = await journeys.publish(session, "welcome", old, actor=actor)
    await journeys.seed_builtins(session)
    current = await journeys.get_version(session, "welcome")
    assert current.version == before.version + 1
    assert current.definition["exit_from"] == "story_delay"
    assert current.created_by == "memberflow"
    await journeys.seed_builtins(session)  # once up to date, seeding again adds nothing
    assert (await journeys.get_version(session, "welcome")).version == current.version
    edited = old.model_copy(update={"name": "Our own welcome"})
    mine = await journeys.publish(session, "welcome", edited, actor=actor)
    await journeys.seed_builtins(session)
    assert (await journeys.get_version(session, "welcome")).version == mine.version


# --- which runs hear an event ------------------------------------------------------------------------------


async def test_an_order_signals_only_the_runs_that_may_be_live(session: AsyncSession) -> None:
    member = await _member(session)
    now = datetime.now(UTC)
    await journeys.on_event(session, member, "order_completed", task_queue="tq-engine")
    assert await _queued(session) == []  # no run of any kind: nothing to wake
    session.add(_run(member, "welcome", "running", now))
    session.add(_run(member, "abandoned_cart", "completed", now))
    await session.flush()
    await journeys.on_event(session, member, "order_completed", task_queue="tq-engine")
    assert await _queued(session) == [("signal", contracts.journey_workflow_id("welcome", member.id))]


async def test_a_queued_start_counts_as_live_until_its_run_ends(session: AsyncSession) -> None:
    member = await _member(session)
    await journeys.enqueue_start(session, kind="win_back", member_id=member.id, task_queue="tq-engine")
    await _queued(session)
    win_back = contracts.journey_workflow_id("win_back", member.id)
    await journeys.on_event(session, member, "order_completed", task_queue="tq-engine")
    assert await _queued(session) == [("signal", win_back)]  # started, not yet recorded: it may be running
    # The run of that start ended (its end is later than the start was queued): nothing is live any more.
    session.add(_run(member, "win_back", "exited", datetime.now(UTC)))
    await session.flush()
    await journeys.on_event(session, member, "order_completed", task_queue="tq-engine")
    assert await _queued(session) == []


def test_a_run_that_would_exit_at_once_is_not_started() -> None:
    raw = {
        "kind": "cart_followup",
        "name": "Cart follow-up",
        "trigger": {"event": "first_order_completed"},
        "exit_on": ["order_completed"],
        "steps": [{"id": "hello", "send": {"channel": "email", "template": "welcome"}}],
    }
    definition = Definition.model_validate(raw)
    assert journeys.exits_at_once(definition, ["order_completed", "first_order_completed"])
    assert not journeys.exits_at_once(definition, ["first_order_completed"])
    held_back = Definition.model_validate(raw | {"exit_from": "hello"})
    assert not journeys.exits_at_once(held_back, ["order_completed", "first_order_completed"])
    assert journeys.listens(definition, "order_completed")
    assert not journeys.listens(definition, "checked_in")
