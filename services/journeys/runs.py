"""Journey runs as the API reads them: each run's row (current step, status, step history) kept by the
workflow, listings, cancellation; and the facts the first welcome skeleton still asks for."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, bindparam, column, distinct, func, select, true, tuple_
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from core.errors import Conflict, NotFound
from models import Journey, JourneyRun, JourneyVersion, Member
from services.platform import audit
from services.platform.audit import Actor


@dataclass(frozen=True)
class Progress:
    run_id: str
    workflow_id: str
    member_id: uuid.UUID
    kind: str
    version: int
    campaign_id: str | None
    step: str
    status: str
    at: datetime
    # Steps the run passed through since its last record, before `step` (each entered and left at `at`).
    passed: tuple[str, ...] = ()


def _entries(progress: Progress) -> list[dict[str, str]]:
    at = progress.at.isoformat()
    return [
        *({"step": step, "at": at, "status": "running"} for step in progress.passed),
        {"step": progress.step, "at": at, "status": progress.status},
    ]


async def definition_for_run(
    db: AsyncSession | AsyncConnection, kind: str, version: int | None
) -> tuple[int, dict[str, Any]] | None:
    """The version a new run keeps (the current one unless `version` is given) and its definition, in one
    statement; None if the journey or that version does not exist."""
    wanted = version if version is not None else Journey.current_version
    stmt = (
        select(JourneyVersion.version, JourneyVersion.definition)
        .join(Journey, Journey.kind == JourneyVersion.kind)
        .where(Journey.kind == kind, JourneyVersion.version == wanted)
    )
    row = (await db.execute(stmt)).one_or_none()
    return None if row is None else (row.version, row.definition)


def _run_upsert() -> Any:
    """The run row's upsert, built once: it runs at every wait of every journey, and building the statement
    (values, EXCLUDED, the `||` append) cost as much of the worker's CPU as running it (py-spy)."""
    stmt = insert(JourneyRun)
    columns = ("run_id", "workflow_id", "member_id", "kind", "version", "campaign_id", "status", "current_step")
    row: dict[str, Any] = {
        name: bindparam(name) for name in (*columns, "steps", "started_at", "updated_at", "ended_at")
    }
    return stmt.values(row).on_conflict_do_update(
        index_elements=["run_id"],
        set_={
            "status": stmt.excluded.status,
            "current_step": stmt.excluded.current_step,
            "steps": JourneyRun.steps.op("||")(stmt.excluded.steps),
            "updated_at": stmt.excluded.updated_at,
            "ended_at": stmt.excluded.ended_at,
        },
    )


_RUN_UPSERT = _run_upsert()


async def record(db: AsyncSession | AsyncConnection, progress: Progress) -> None:
    """Upsert the run's row: its current step and status, with the steps appended to its history. One
    statement: on a connection in autocommit mode it is the activity's only round trip."""
    params = {
        "run_id": progress.run_id,
        "workflow_id": progress.workflow_id,
        "member_id": progress.member_id,
        "kind": progress.kind,
        "version": progress.version,
        "campaign_id": progress.campaign_id,
        "status": progress.status,
        "current_step": progress.step,
        "steps": _entries(progress),
        "started_at": progress.at,
        "updated_at": progress.at,
        "ended_at": progress.at if progress.status != "running" else None,
    }
    await db.execute(_RUN_UPSERT, params)


async def member_runs(session: AsyncSession, member_id: uuid.UUID, limit: int = 50) -> list[JourneyRun]:
    stmt = select(JourneyRun).where(JourneyRun.member_id == member_id).order_by(JourneyRun.started_at.desc())
    return list((await session.execute(stmt.limit(limit))).scalars().all())


async def runs_of(
    session: AsyncSession, kind: str, *, step: str | None, status: str | None, limit: int, after: str | None
) -> list[JourneyRun]:
    """By run id, descending; `after` is the last run id of the previous page."""
    stmt = select(JourneyRun).where(JourneyRun.kind == kind)
    if step:
        stmt = stmt.where(JourneyRun.current_step == step)
    if status:
        stmt = stmt.where(JourneyRun.status == status)
    if after:
        stmt = stmt.where(JourneyRun.run_id < after)
    return list((await session.execute(stmt.order_by(JourneyRun.run_id.desc()).limit(limit))).scalars().all())


async def get_run(session: AsyncSession, run_id: str) -> JourneyRun:
    run = await session.get(JourneyRun, run_id)
    if run is None:
        raise NotFound(f"no journey run {run_id!r}", code="journey_run_not_found")
    return run


async def cancel_run(session: AsyncSession, temporal: Client, run_id: str, *, actor: Actor) -> JourneyRun:
    """Ask Temporal to cancel a running run (the workflow records itself as cancelled)."""
    run = await get_run(session, run_id)
    if run.status != "running":
        raise Conflict(f"the run is already {run.status}", code="run_not_running", details={"status": run.status})
    try:
        await temporal.get_workflow_handle(run.workflow_id, run_id=run.run_id).cancel()
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise
        raise Conflict("the run has already ended", code="run_not_running") from exc
    await audit.record(session, actor, action="journey.cancel", target_type="journey_run", target_id=run_id)
    return run


# A run "ended" at its current step with one of these; a cancelled run records the step "cancelled" instead.
ENDED_STATUSES = ("completed", "exited", "failed")
MEASURES = ("now", "passed", "ended")


@dataclass(frozen=True)
class StepCounts:
    """Who is where on one step of a journey, over the runs of every version."""

    now: int = 0  # running, with this as their current step
    passed: int = 0  # runs whose step history contains it (those at it now included)
    ended: int = 0  # runs that ended here: completed, exited (an exit_on event) or failed at this step


async def step_counts(session: AsyncSession, kind: str) -> dict[str, StepCounts]:
    """The counts per step id of one journey kind, in two grouped queries over `journey_runs`. A cancelled run
    records the step "cancelled", so it counts as passing through the steps it reached and ending nowhere."""
    at = await session.execute(
        select(
            JourneyRun.current_step,
            func.count().filter(JourneyRun.status == "running"),
            func.count().filter(JourneyRun.status.in_(ENDED_STATUSES)),
        )
        .where(JourneyRun.kind == kind)
        .group_by(JourneyRun.current_step)
    )
    entry = func.jsonb_array_elements(JourneyRun.steps).table_valued(column("value", JSONB)).render_derived("entry")
    step = entry.c.value["step"].astext
    passed = await session.execute(
        select(step, func.count(distinct(JourneyRun.run_id)))
        .select_from(JourneyRun)
        .join(entry, true())
        .where(JourneyRun.kind == kind)
        .group_by(step)
    )
    now_and_ended = {row[0]: (int(row[1]), int(row[2])) for row in at}
    through = {row[0]: int(row[1]) for row in passed}
    return {
        step_id: StepCounts(
            now=now_and_ended.get(step_id, (0, 0))[0],
            passed=through.get(step_id, 0),
            ended=now_and_ended.get(step_id, (0, 0))[1],
        )
        for step_id in {*now_and_ended, *through}
    }


def _measured(step: str, measure: str) -> ColumnElement[bool]:
    """The runs one of `step_counts`'s figures counts, as a condition on `journey_runs` (same SQL meaning)."""
    if measure == "now":
        return (JourneyRun.current_step == step) & (JourneyRun.status == "running")
    if measure == "ended":
        return (JourneyRun.current_step == step) & JourneyRun.status.in_(ENDED_STATUSES)
    if measure == "passed":
        # Some entry of the history has this step: what the grouped count over jsonb_array_elements counts.
        return JourneyRun.steps.contains([{"step": step}])
    raise ValueError(f"measure must be one of {', '.join(MEASURES)}, not {measure!r}")


@dataclass(frozen=True)
class StepRun:
    """One run counted at a step: the run, its member's external id and name (None if the member row is gone),
    and when it first reached the step and when it left it (None while it is still there)."""

    run: JourneyRun
    external_id: str | None
    name: str | None
    reached_at: datetime | None
    left_at: datetime | None


def _when(run: JourneyRun, step: str) -> tuple[datetime | None, datetime | None]:
    """From the run's step history, its latest visit of `step`: when it entered, and when it left (the next entry:
    the next step, "cancelled", or the ending recorded at the step itself); None while it is still there."""
    history = run.steps or []
    visits = [i for i, entry in enumerate(history) if entry.get("step") == step]
    if not visits:
        return None, None
    last = visits[-1]
    if history[last].get("status") != "running":  # it ended at the step: the entry before is where it entered
        entered = last - 1 if last > 0 and history[last - 1].get("step") == step else last
        return datetime.fromisoformat(history[entered]["at"]), datetime.fromisoformat(history[last]["at"])
    left = datetime.fromisoformat(history[last + 1]["at"]) if last + 1 < len(history) else None
    return datetime.fromisoformat(history[last]["at"]), left


async def runs_at_step(
    session: AsyncSession,
    kind: str,
    step: str,
    measure: str,
    *,
    limit: int,
    after: tuple[datetime, str] | None = None,
) -> list[StepRun]:
    """The runs of one journey kind (every version) that `step_counts` counts under `measure` ("now", "passed" or
    "ended") at `step`: newest first, by (started_at, run_id) descending; `after` is that key of the previous page's
    last run. ValueError for another measure."""
    stmt = (
        select(JourneyRun, Member.external_id, Member.name)
        .outerjoin(Member, Member.id == JourneyRun.member_id)
        .where(JourneyRun.kind == kind, _measured(step, measure))
    )
    if after is not None:
        stmt = stmt.where(tuple_(JourneyRun.started_at, JourneyRun.run_id) < tuple_(*after))
    stmt = stmt.order_by(JourneyRun.started_at.desc(), JourneyRun.run_id.desc()).limit(limit)
    rows = (await session.execute(stmt)).all()
    listed = []
    for run, external_id, name in rows:
        reached, left = _when(run, step)
        listed.append(StepRun(run=run, external_id=external_id, name=name, reached_at=reached, left_at=left))
    return listed


@dataclass(frozen=True)
class MemberJourneyFacts:
    """What the first release's welcome skeleton asks (still answered for its running histories)."""

    exists: bool
    order_count: int
    tier: str | None


async def facts(session: AsyncSession, member_id: uuid.UUID) -> MemberJourneyFacts:
    row = (await session.execute(select(Member.order_count, Member.tier).where(Member.id == member_id))).one_or_none()
    if row is None:
        return MemberJourneyFacts(exists=False, order_count=0, tier=None)
    return MemberJourneyFacts(exists=True, order_count=row.order_count, tier=row.tier)
