"""Activities of the journey workflow: thin adapters to services, each idempotent by a key the workflow
derives from its own id, run id and step (so a retried activity finds what its first attempt did)."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from core.db import autocommit
from core.errors import AppError
from core.settings import get_settings
from core.timeutil import add_months
from services import journeys, members
from services.journeys import tasks
from services.journeys.definition import Condition, evaluate
from services.loyalty import ledger
from services.platform import outbox
from services.rewards import coupons
from services.rewards.coupons import CouponIssue


class MemberFactsInput(BaseModel):
    member_id: str


class MemberFacts(BaseModel):
    exists: bool
    order_count: int
    tier: str | None


class LoadInput(BaseModel):
    kind: str
    version: int | None = None


class LoadedJourney(BaseModel):
    version: int
    definition: dict[str, Any]


class ProgressInput(BaseModel):
    run_id: str
    workflow_id: str
    member_id: str
    kind: str
    version: int
    campaign_id: str | None
    step: str
    status: str
    at: datetime
    # Steps passed through since the last record, before `step` (recorded as entered at `at` too).
    passed: list[str] = []


class BeginInput(BaseModel):
    """The run's first activity: which definition to load, and the run's row to start at its first step."""

    kind: str
    version: int | None = None
    run_id: str
    workflow_id: str
    member_id: str
    campaign_id: str | None = None
    at: datetime


def _progress(
    inp: BeginInput | ProgressInput, *, version: int, step: str, status: str, passed: list[str] | None = None
) -> journeys.Progress:
    """The run's row as the begin and record activities write it: the run's ids from the input, its position given."""
    return journeys.Progress(
        run_id=inp.run_id,
        workflow_id=inp.workflow_id,
        member_id=uuid.UUID(inp.member_id),
        kind=inp.kind,
        version=version,
        campaign_id=inp.campaign_id,
        step=step,
        status=status,
        at=inp.at,
        passed=tuple(passed or ()),
    )


class EvaluateInput(BaseModel):
    member_id: str
    condition: dict[str, Any]
    last_wait: str | None = None


class Verdict(BaseModel):
    result: bool


class LocalTimeInput(BaseModel):
    member_id: str
    local_time: str  # HH:MM
    now: datetime


class Delay(BaseModel):
    seconds: float


class GrantInput(BaseModel):
    member_id: str
    points: int
    reason: str
    key: str
    reference: str


class Granted(BaseModel):
    transaction_id: int
    replayed: bool


class CouponInput(BaseModel):
    member_id: str
    template: str
    issue_key: str


class IssuedCoupon(BaseModel):
    code: str | None
    # Why no coupon was issued (limit reached, template inactive): the message goes out without one.
    reason: str | None = None


class TaskInput(BaseModel):
    member_id: str
    title: str
    assignee_role: str
    due_days: int
    key: str


class TagInput(BaseModel):
    member_id: str
    add: list[str] = []
    remove: list[str] = []


class JourneyActivities:
    """The begin and record activities run once per wait of every journey, so they talk to the database on an
    autocommit connection (no BEGIN and COMMIT round trips, no ORM session): each is one or two statements
    that are atomic on their own."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], engine: AsyncEngine | None = None) -> None:
        self._sessions = sessions
        self._engine = engine or sessions.kw.get("bind")

    def _autocommit(self) -> AsyncEngine:
        assert self._engine is not None, "JourneyActivities needs the engine (or sessions bound to one)"
        return autocommit(self._engine)

    @activity.defn(name="journey.member_facts")
    async def member_facts(self, inp: MemberFactsInput) -> MemberFacts:
        async with self._sessions() as session:
            facts = await journeys.facts(session, uuid.UUID(inp.member_id))
        return MemberFacts(exists=facts.exists, order_count=facts.order_count, tier=facts.tier)

    @activity.defn(name="journey.load")
    async def load_definition(self, inp: LoadInput) -> LoadedJourney:
        async with self._sessions() as session:
            try:
                found = await journeys.get_version(session, inp.kind, inp.version)
            except AppError as exc:
                raise ApplicationError(exc.message, type="UnknownJourney", non_retryable=True) from exc
        return LoadedJourney(version=found.version, definition=found.definition)

    @activity.defn(name="journey.begin")
    async def begin(self, inp: BeginInput) -> LoadedJourney:
        """Load the definition and record the run at its first step: one local activity where the run used to
        take a regular one and a record. Two statements (the read, then the row's upsert, which a retry repeats
        harmlessly), so no transaction is needed."""
        async with self._autocommit().connect() as connection:
            found = await journeys.definition_for_run(connection, inp.kind, inp.version)
            if found is None:
                wanted = f"version {inp.version}" if inp.version is not None else "a current version"
                message = f"journey {inp.kind!r} has no {wanted}"
                raise ApplicationError(message, type="UnknownJourney", non_retryable=True)
            version, definition = found
            first = definition["steps"][0]["id"]
            await journeys.record(connection, _progress(inp, version=version, step=first, status="running"))
        return LoadedJourney(version=version, definition=definition)

    @activity.defn(name="journey.record")
    async def record(self, inp: ProgressInput) -> None:
        progress = _progress(inp, version=inp.version, step=inp.step, status=inp.status, passed=inp.passed)
        async with self._autocommit().connect() as connection:
            await journeys.record(connection, progress)

    @activity.defn(name="journey.evaluate")
    async def evaluate(self, inp: EvaluateInput) -> Verdict:
        async with self._sessions() as session:
            member = await members.get(session, uuid.UUID(inp.member_id))
            # Only non-personal custom fields: the verdict goes into the workflow's history.
            fields = await journeys.fact_fields(session)
            facts = journeys.member_facts(member, fields=fields) | {"last_wait": inp.last_wait}
        return Verdict(result=evaluate(Condition.model_validate(inp.condition), facts))

    @activity.defn(name="journey.until_local_time")
    async def until_local_time(self, inp: LocalTimeInput) -> Delay:
        """Seconds from `now` to the next HH:MM on the member's own clock (0 if it is that minute now)."""
        async with self._sessions() as session:
            member = await members.get(session, uuid.UUID(inp.member_id))
        zone = ZoneInfo(member.timezone)
        local_now = inp.now.astimezone(zone)
        hour, minute = (int(part) for part in inp.local_time.split(":"))
        target = datetime.combine(local_now.date(), time(hour, minute), tzinfo=zone)
        if target < local_now.replace(second=0, microsecond=0):
            target = datetime.combine(local_now.date() + timedelta(days=1), time(hour, minute), tzinfo=zone)
        return Delay(seconds=max(0.0, (target - local_now).total_seconds()))

    @activity.defn(name="journey.grant_points")
    async def grant_points(self, inp: GrantInput) -> Granted:
        """A stand-alone posting: one autocommit statement, idempotent by the step's key."""
        async with self._autocommit().connect() as connection:
            posting = await ledger.credit(
                connection,
                member_id=uuid.UUID(inp.member_id),
                points=inp.points,
                kind=ledger.TxKind.EARN,
                reason=inp.reason,
                idempotency_key=inp.key,
                reference=("journey_step", inp.reference),
                expires_at=add_months(
                    activity.info().current_attempt_scheduled_time, get_settings().points.expiry_months
                ),
            )
        return Granted(transaction_id=posting.transaction_id, replayed=posting.replayed)

    @activity.defn(name="journey.issue_coupon")
    async def issue_coupon(self, inp: CouponInput) -> IssuedCoupon:
        async with self._sessions() as session:
            try:
                view = await coupons.issue(
                    session,
                    CouponIssue(
                        template_code=inp.template, member_id=uuid.UUID(inp.member_id), issue_key=inp.issue_key
                    ),
                )
            except AppError as exc:
                return IssuedCoupon(code=None, reason=exc.code)
            await session.commit()
            return IssuedCoupon(code=view.coupon.code)

    @activity.defn(name="journey.create_task")
    async def create_task(self, inp: TaskInput) -> str:
        async with self._sessions() as session:
            task_id = await tasks.create(
                session,
                member_id=uuid.UUID(inp.member_id),
                title=inp.title,
                assignee_role=inp.assignee_role,
                due_days=inp.due_days,
                source_key=inp.key,
            )
            await session.commit()
        return str(task_id)

    @activity.defn(name="journey.tag")
    async def tag(self, inp: TagInput) -> list[str]:
        async with self._sessions() as session:
            tags = await members.change_tags(session, uuid.UUID(inp.member_id), add=inp.add, remove=inp.remove)
            await session.commit()
        return tags

    def all(self) -> list[Any]:
        return [
            self.member_facts,
            self.load_definition,
            self.begin,
            self.record,
            self.evaluate,
            self.until_local_time,
            self.grant_points,
            self.issue_coupon,
            self.create_task,
            self.tag,
        ]


class ScanInput(BaseModel):
    today: date
    task_queue: str


class ScanResult(BaseModel):
    started: dict[str, int]


class ScanActivities:
    """The daily scan behind time-triggered journeys (birthdays, inactivity)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    @activity.defn(name="journey.daily_scan")
    async def daily_scan(self, inp: ScanInput) -> ScanResult:
        async with self._sessions() as session:
            started = await journeys.scan_due(session, today=inp.today, task_queue=inp.task_queue)
            pending = outbox.take_pending_ids(session)
            await session.commit()
        # The worker's relay delivers the starts; do it now for the ones just written.
        if pending:
            await outbox.dispatch(self._sessions, activity.client(), ids=pending)
        return ScanResult(started=started)
