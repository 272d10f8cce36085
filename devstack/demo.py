"""`memberflow demo`: fill a realistic brand, resumably, with progress on the terminal.

History goes in the way a brand's own history would: the members who joined before the last week, their
orders and their check-ins, reviews and profiles are written as rows of one bulk history import and run
through the import's chunks (devstack/demo_history.py), so it starts no journey, sends nothing and earns
what the import books (order points by the earn rule, tiers, expiry; no rule points for past events). Then,
through the services, one transaction per member (devstack/demo_members.py): the imported members' refunds
and small redemptions, and the members of the last week, who sign up live and get their welcome journey.
Temporal work (approval workflows, journeys, the campaign) is left in the outbox for the worker's relay, so
the generator needs only the database. Re-running adds only what is missing: an import stopped half-way
resumes at its first chunk not done, and a member whose external id exists is not planned again."""

from __future__ import annotations

import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TextIO

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.errors import AppError
from devstack import demo_history
from devstack.demo_history import DemoImport
from devstack.demo_members import COUNTS, Job, Tally, in_processes, run_jobs
from devstack.demo_plan import EXTERNAL_PREFIX, external_id, plan_member
from devstack.progress import Progress
from models import Campaign, LedgerAccount, Member, Redemption, Reward, Segment
from services import campaigns, imports, rewards, segments
from services.intake import bootstrap
from services.platform.audit import Actor

# The catalog: (name, points, description). The default approval threshold is 5,000 points, so the last
# two need an approver.
REWARDS: list[tuple[str, int, str]] = [
    ("Coffee voucher", 300, "A drink of your choice in any of our stores"),
    ("Canvas tote bag", 1200, "Limited-edition tote"),
    ("Bluetooth speaker", 4500, "Portable speaker"),
    ("Wireless earbuds", 6000, "Noise-cancelling earbuds"),
    ("Weekend hotel stay", 20000, "Two nights for two"),
]
APPROVAL_REWARD = "Wireless earbuds"
DEMO_ACTOR = Actor.system("demo")
APPROVAL_REQUESTED_BY = "demo:approval"
SEGMENT_NAME = "Demo: lapsing buyers"
CAMPAIGN_NAME = "Demo: win back lapsing buyers"
SEGMENT_DEFINITION: dict[str, Any] = {
    "all": [{"has_purchased": True}, {"days_since_last_purchase": {"gte": 60, "lte": 540}}]
}


@dataclass(frozen=True)
class DemoOptions:
    members: int = 10_000
    seed: int = 2026
    years: int = 2
    concurrency: int = 4  # sessions per process
    processes: int = 2
    task_queue: str = "memberflow"
    chunk_rows: int = imports.DEFAULT_CHUNK_ROWS  # rows per chunk of the history import


@dataclass
class DemoReport:
    """What this run added (a second run reports zeros) and how long each phase took."""

    members: int = 0
    skipped_members: int = 0
    orders: int = 0
    refunds: int = 0
    events: int = 0
    redemptions: int = 0
    approvals: int = 0
    campaign_started: bool = False
    lots_expired: int = 0  # lots of points already past their expiry when imported
    imports: list[str] = field(default_factory=list)  # the history imports this run ran (ids)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def added_nothing(self) -> bool:
        written = (self.members, self.orders, self.refunds, self.events, self.redemptions, self.approvals)
        return not (any(written) or self.campaign_started)


# --- setup -----------------------------------------------------------------------------------------------


async def _setup(session: AsyncSession) -> dict[str, Reward]:
    """The shipped journeys and rules (idempotent), and the reward catalog where missing (by name)."""
    await bootstrap.seed(session)
    existing = {r.name: r for r in await rewards.catalog(session, active_only=False)}
    for name, points, description in REWARDS:
        if name not in existing:
            existing[name] = await rewards.create(
                session, rewards.RewardCreate(name=name, points_cost=points, description=description)
            )
    return existing


# --- history (the import), then members (the services) ----------------------------------------------------


async def _existing_members(session: AsyncSession) -> set[str]:
    rows = await session.execute(select(Member.external_id).where(Member.external_id.startswith(EXTERNAL_PREFIX)))
    return set(rows.scalars().all())


async def _plan(
    sessions: async_sessionmaker[AsyncSession], options: DemoOptions, report: DemoReport
) -> tuple[list[DemoImport], list[Job]]:
    """The demo imports still to finish or settle (a new one for the history members missing), and the live
    members missing. Members an unfinished import carries are left to it, not planned again."""
    async with sessions() as session:
        pending = await demo_history.unsettled(session)
        carried = {i for imp in pending for i in await demo_history.member_indices(session, imp.import_id)}
        existing = await _existing_members(session)
    missing = [i for i in range(1, options.members + 1) if external_id(i) not in existing]
    report.skipped_members = options.members - len(missing)
    now = datetime.now(UTC)
    plans = [plan_member(options.seed, i, now=now, years=options.years) for i in missing if i not in carried]
    history = [plan for plan in plans if not plan.live]
    async with sessions() as session:
        created = await demo_history.create(
            session, history, now=now, seed=options.seed, years=options.years, chunk_rows=options.chunk_rows
        )
        await session.commit()
    if created is not None:
        pending.append(created)
    live = [Job("live", plan.index, now, options.seed, options.years) for plan in plans if plan.live]
    return pending, live


async def _history_phase(
    sessions: async_sessionmaker[AsyncSession], pending: list[DemoImport], progress: Progress, report: DemoReport
) -> None:
    """Each pending import's chunks not done yet, then its finish; the report counts what this run wrote."""
    before: dict[uuid.UUID, imports.ImportProgress] = {}
    async with sessions() as session:
        for imp in pending:
            before[imp.import_id] = await imports.progress(session, imp.import_id)
    progress.start("history", sum(p.rows - p.rows_done for p in before.values()))
    offset = 0
    try:
        for imp in pending:
            first = before[imp.import_id]

            def show(now: imports.ImportProgress, first: imports.ImportProgress = first, offset: int = offset) -> None:
                progress.done = offset + now.rows_done - first.rows_done
                progress.counts = {kind: c.imported for kind, c in now.kinds.items()}

            done = await demo_history.run(sessions, imp.import_id, show)
            offset += done.rows_done - first.rows_done
            if done.state != "completed":
                raise RuntimeError(f"the demo import {imp.import_id} ended {done.state}: {done.error}")
            for kind, name in (("members", "members"), ("orders", "orders"), ("events", "events")):
                added = done.kinds.get(kind, imports.KindProgress()).imported
                was = first.kinds.get(kind, imports.KindProgress()).imported
                setattr(report, name, getattr(report, name) + added - was)
            report.lots_expired += done.lots_expired - first.lots_expired
            report.imports.append(str(imp.import_id))
    finally:
        report.seconds["history"] = progress.finish()


async def _settle_jobs(sessions: async_sessionmaker[AsyncSession], imp: DemoImport) -> list[Job]:
    """The imported members with refunds or small redemptions in their plan (the others need nothing)."""
    async with sessions() as session:
        indices = await demo_history.member_indices(session, imp.import_id)
    jobs = [Job("settle", i, imp.now, imp.seed, imp.years) for i in indices]
    return [job for job in jobs if (plan := job.plan()).redeem_small or any(o.refund for o in plan.orders)]


async def _members_phase(
    sessions: async_sessionmaker[AsyncSession],
    options: DemoOptions,
    jobs: list[Job],
    progress: Progress,
    report: DemoReport,
    database_url: str | None,
) -> None:
    totals = dict.fromkeys(COUNTS, 0)
    progress.start("members", len(jobs))

    def show() -> None:
        progress.done = totals["done"]
        progress.counts = {name: totals[name] for name in COUNTS[2:]}

    def count(mine: Tally) -> None:
        totals["done"] += 1
        for name in COUNTS[1:]:
            totals[name] += getattr(mine, name)
        show()

    try:
        processes = min(options.processes, max(1, len(jobs) // 20))  # a process costs a second to start
        if processes <= 1 or database_url is None:
            await run_jobs(
                sessions, jobs, concurrency=options.concurrency, task_queue=options.task_queue, on_member=count
            )
        else:
            await in_processes(
                database_url,
                jobs,
                processes=processes,
                concurrency=options.concurrency,
                task_queue=options.task_queue,
                totals=totals,
                show=show,
            )
    finally:
        report.seconds["members"] = progress.finish()
        for name in COUNTS[1:]:
            setattr(report, name, getattr(report, name) + totals[name])


# --- approvals, campaign -----------------------------------------------------------------------------------


async def _approvals_phase(
    session: AsyncSession, options: DemoOptions, catalog: dict[str, Reward], progress: Progress, report: DemoReport
) -> None:
    """A handful of redemptions above the approval threshold, by the members with the most points: each holds
    the points and queues its RedemptionApproval workflow (the approver inbox fills when the worker runs)."""
    wanted = max(3, options.members // 1000)
    reward = catalog[APPROVAL_REWARD]
    have = (
        await session.execute(
            select(func.count()).select_from(Redemption).where(Redemption.requested_by == APPROVAL_REQUESTED_BY)
        )
    ).scalar_one()
    progress.start("approvals", max(wanted - have, 0))
    if have < wanted:
        already = select(Redemption.member_id).where(Redemption.requested_by == APPROVAL_REQUESTED_BY)
        candidates = (
            (
                await session.execute(
                    select(Member.id)
                    .join(LedgerAccount, LedgerAccount.member_id == Member.id)
                    .where(
                        Member.external_id.startswith(EXTERNAL_PREFIX),
                        LedgerAccount.posted - LedgerAccount.held >= reward.points_cost,
                        Member.id.not_in(already),
                    )
                    .order_by((LedgerAccount.posted - LedgerAccount.held).desc(), Member.external_id)
                    .limit(wanted - have)
                )
            )
            .scalars()
            .all()
        )
        for member_id in candidates:
            await rewards.request_redemption(
                session,
                rewards.RedemptionCreate(member_id=member_id, reward_id=reward.id),
                requested_by=APPROVAL_REQUESTED_BY,
                task_queue=options.task_queue,
            )
            progress.done += 1
            report.approvals += 1
        await session.commit()
    report.seconds["approvals"] = progress.finish()


async def _campaign_phase(session: AsyncSession, options: DemoOptions, progress: Progress, report: DemoReport) -> None:
    """A win-back campaign over the lapsing buyers, 10% held out, started (its workflow waits in the outbox)."""
    progress.start("campaign", 1)
    exists = (await session.execute(select(Campaign.id).where(Campaign.name == CAMPAIGN_NAME))).scalar_one_or_none()
    if exists is None:
        segment_id = (
            await session.execute(select(Segment.id).where(Segment.name == SEGMENT_NAME))
        ).scalar_one_or_none()
        if segment_id is None:
            segment = await segments.create(
                session,
                segments.SegmentCreate(
                    name=SEGMENT_NAME,
                    description="bought before, nothing in the last 60 days (demo data)",
                    definition=SEGMENT_DEFINITION,
                ),
                actor=DEMO_ACTOR,
            )
            segment_id = segment.id
        try:
            await campaigns.create(
                session,
                campaigns.CampaignSpec(
                    name=CAMPAIGN_NAME, segment_id=segment_id, journey_kind="win_back", holdout_percent=10
                ),
                actor=DEMO_ACTOR,
                start_in=options.task_queue,
            )
        except AppError as exc:  # e.g. someone disabled the win-back journey: the rest of the demo stands
            await session.rollback()
            report.seconds["campaign"] = progress.finish()
            progress.note(f"no demo campaign: {exc}")
            return
        await session.commit()
        report.campaign_started = True
        progress.done = 1
    report.seconds["campaign"] = progress.finish()


# --- the run ---------------------------------------------------------------------------------------------


async def generate(
    sessions: async_sessionmaker[AsyncSession],
    options: DemoOptions,
    *,
    out: TextIO | None = None,
    database_url: str | None = None,
) -> DemoReport:
    """Fill the brand; safe to run again (adds only what is missing). With `database_url`, the per-member work
    runs in `options.processes` processes (the services' Python is the bottleneck, not the database)."""
    progress = Progress(out or sys.stdout)
    report = DemoReport()
    started = time.monotonic()
    async with sessions() as session:
        catalog = await _setup(session)
        await session.commit()
    pending, live = await _plan(sessions, options, report)
    await _history_phase(sessions, pending, progress, report)
    settle = {imp.import_id: await _settle_jobs(sessions, imp) for imp in pending}
    jobs = [job for part in settle.values() for job in part] + live
    await _members_phase(sessions, options, jobs, progress, report, database_url)
    async with sessions() as session:
        for imp in pending:  # refunds and redemptions of its members are in: a later run leaves it alone
            await demo_history.mark_settled(session, imp, {"members_settled": len(settle[imp.import_id])})
        await session.commit()
    async with sessions() as session:
        await _approvals_phase(session, options, catalog, progress, report)
    async with sessions() as session:
        await _campaign_phase(session, options, progress, report)
    report.seconds["total"] = time.monotonic() - started
    if report.added_nothing:
        progress.note(f"nothing to add: the {options.members:,} demo members and their history are all there")
    else:
        progress.note(
            f"added {report.members:,} members, {report.orders:,} orders, {report.refunds:,} refunds, "
            f"{report.events:,} events, {report.redemptions + report.approvals:,} redemptions "
            f"({report.approvals} awaiting approval) in {report.seconds['total']:,.0f}s"
        )
    return report
