"""`memberflow demo`: fill a realistic brand through the services, resumably, with progress on the terminal.

Each member is one transaction: sign-up, orders, refunds, check-ins, reviews and redemptions, in time order,
through the same services the API uses (so points, ledger, tiers, rules and coupons are real). History is
imported with the services' import switch (`start_journeys=False`): it earns points but starts no journey
and sends nothing today; members who joined in the last days are imported live and get their welcome
journey. Temporal work (approval workflows, journeys, the campaign) is left in the outbox for the worker's
relay, so the generator needs only the database. A member whose external id exists is skipped whole, so a
second run adds nothing and an interrupted run completes on the next.

Longer than 400 lines on purpose: its three phases (members, approvals, campaign) read best in one file."""

from __future__ import annotations

import asyncio
import multiprocessing
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TextIO

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from core.errors import AppError, Conflict
from devstack.demo_plan import (
    CURRENCY,
    EXTERNAL_PREFIX,
    ORDER_SOURCE,
    PlannedEvent,
    PlannedMember,
    PlannedOrder,
    external_id,
    plan_member,
)
from devstack.progress import Progress
from models import Campaign, LedgerAccount, Member, Redemption, Reward, Segment
from services import campaigns, members, rewards, segments
from services.intake import bootstrap, events, orders, signups
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
SMALL_REWARDS = ("Coffee voucher", "Canvas tote bag")
APPROVAL_REWARD = "Wireless earbuds"
REQUESTED_BY = "demo"
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
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def added_nothing(self) -> bool:
        return not (self.members or self.approvals or self.campaign_started)


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


# --- members ---------------------------------------------------------------------------------------------


@dataclass
class _Tally:
    orders: int = 0
    refunds: int = 0
    events: int = 0
    redemptions: int = 0


async def _import_member(
    session: AsyncSession, plan: PlannedMember, catalog: dict[str, Reward], task_queue: str, tally: _Tally
) -> None:
    """One member and everything they did, in time order, in the caller's transaction."""
    live = plan.live
    member = await signups.register(
        session,
        members.MemberCreate.model_validate(plan.profile),
        source="demo",
        task_queue=task_queue,
        start_journeys=live,
        joined_at=plan.joined_at,
    )
    if plan.tags:
        await members.change_tags(session, member.id, add=plan.tags, remove=[])
    steps: list[tuple[datetime, int, Callable[[], Awaitable[None]]]] = []
    order_ids: dict[str, uuid.UUID] = {}

    def ingest_order(order: PlannedOrder) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            body = orders.OrderCreate(
                external_id=order.external_id,
                source=ORDER_SOURCE,
                member_id=member.id,
                amount=order.amount,
                currency=CURRENCY,
                placed_at=order.placed_at,
                items=order.items,
            )
            stored = await orders.ingest(session, body, task_queue=task_queue, start_journeys=live)
            order_ids[order.external_id] = stored.id
            tally.orders += 1

        return run

    def refund_order(order: PlannedOrder) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            assert order.refund is not None
            refund_id, amount, at = order.refund
            body = orders.RefundCreate(external_id=refund_id, amount=amount, refunded_at=at, reason="demo")
            await orders.refund(session, order_ids[order.external_id], body)
            tally.refunds += 1

        return run

    def ingest_event(event: PlannedEvent) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            body = events.EventCreate(
                member_id=member.id,
                type=event.type,
                occurred_at=event.occurred_at,
                properties=event.properties,
                event_id=event.event_id,
            )
            await events.ingest(session, body, task_queue=task_queue, start_journeys=live)
            tally.events += 1

        return run

    for order in plan.orders:
        steps.append((order.placed_at, 0, ingest_order(order)))
        if order.refund is not None:
            steps.append((order.refund[2], 1, refund_order(order)))
    for event in plan.events:
        steps.append((event.occurred_at, 2, ingest_event(event)))
    steps.sort(key=lambda step: (step[0], step[1]))
    for _, _, run in steps:
        await run()
    await _redeem_small(session, member.id, plan, catalog, task_queue, tally)


async def _redeem_small(
    session: AsyncSession,
    member_id: uuid.UUID,
    plan: PlannedMember,
    catalog: dict[str, Reward],
    task_queue: str,
    tally: _Tally,
) -> None:
    """Redemptions below the approval threshold, while the member has the points."""
    picked = [catalog[SMALL_REWARDS[(plan.index + number) % len(SMALL_REWARDS)]] for number in range(plan.redeem_small)]
    # Taking stock locks the reward's row until commit: always in the same order, so two members never deadlock.
    for reward in sorted(picked, key=lambda r: r.id):
        account = (
            await session.execute(
                select(LedgerAccount.posted - LedgerAccount.held).where(LedgerAccount.member_id == member_id)
            )
        ).scalar_one()
        if account < reward.points_cost:
            return
        await rewards.request_redemption(
            session,
            rewards.RedemptionCreate(member_id=member_id, reward_id=reward.id),
            requested_by=REQUESTED_BY,
            task_queue=task_queue,
        )
        tally.redemptions += 1


async def _existing_members(session: AsyncSession) -> set[str]:
    rows = await session.execute(select(Member.external_id).where(Member.external_id.startswith(EXTERNAL_PREFIX)))
    return set(rows.scalars().all())


_COUNTS = ("members", "orders", "refunds", "events", "redemptions")


async def _import_slice(
    sessions: async_sessionmaker[AsyncSession],
    options: DemoOptions,
    indices: list[int],
    now: datetime,
    on_member: Callable[[_Tally], None],
) -> None:
    """Import these members, `options.concurrency` at a time (each its own session and transaction)."""
    async with sessions() as session:
        catalog = {r.name: r for r in await rewards.catalog(session, active_only=False)}
    queue = iter(indices)

    async def worker() -> None:
        for index in queue:  # the iterator is shared: each index goes to exactly one worker
            plan = plan_member(options.seed, index, now=now, years=options.years)
            mine = _Tally()
            async with sessions() as session:
                try:
                    await _import_member(session, plan, catalog, options.task_queue, mine)
                    await session.commit()
                except Conflict as exc:
                    if exc.code != "member_exists":  # another run imported this member meanwhile
                        raise
                    await session.rollback()
                    continue
            on_member(mine)

    await asyncio.gather(*(worker() for _ in range(max(1, options.concurrency))))


def _slice_process(url: str, options: DemoOptions, indices: list[int], now: datetime, shared: Any) -> None:
    """A child process's share of the members (Python is the bottleneck: one process per core)."""

    def count(mine: _Tally) -> None:
        with shared.get_lock():
            shared[0] += 1
            for slot, name in enumerate(_COUNTS[1:], start=1):
                shared[slot] += getattr(mine, name)

    async def run() -> None:
        engine = create_async_engine(url, pool_size=options.concurrency + 1)
        try:
            await _import_slice(async_sessionmaker(engine, expire_on_commit=False), options, indices, now, count)
        finally:
            await engine.dispose()

    asyncio.run(run())


async def _members_phase(
    sessions: async_sessionmaker[AsyncSession],
    options: DemoOptions,
    progress: Progress,
    report: DemoReport,
    database_url: str | None,
) -> None:
    async with sessions() as session:
        existing = await _existing_members(session)
    todo = [i for i in range(1, options.members + 1) if external_id(i) not in existing]
    report.skipped_members = options.members - len(todo)
    now = datetime.now(UTC)
    totals = dict.fromkeys(_COUNTS, 0)
    progress.start("members", len(todo))

    def show() -> None:
        progress.done = totals["members"]
        progress.counts = {name: totals[name] for name in _COUNTS[1:]}

    def count(mine: _Tally) -> None:
        totals["members"] += 1
        for name in _COUNTS[1:]:
            totals[name] += getattr(mine, name)
        show()

    try:
        processes = min(options.processes, max(1, len(todo) // 20))  # a process costs a second to start
        if processes <= 1 or database_url is None:
            await _import_slice(sessions, options, todo, now, count)
        else:
            await _in_processes(database_url, options, todo, now, processes, totals, show)
    finally:
        report.seconds["members"] = progress.finish()
        report.members = totals["members"]
        report.orders, report.refunds = totals["orders"], totals["refunds"]
        report.events, report.redemptions = totals["events"], totals["redemptions"]


async def _in_processes(
    url: str,
    options: DemoOptions,
    todo: list[int],
    now: datetime,
    processes: int,
    totals: dict[str, int],
    show: Callable[[], None],
) -> None:
    context = multiprocessing.get_context("spawn")  # no fork of a running event loop and its connections
    shared = context.Array("q", len(_COUNTS))
    children = [
        context.Process(target=_slice_process, args=(url, options, todo[part::processes], now, shared), daemon=True)
        for part in range(processes)
    ]
    for child in children:
        child.start()
    try:
        while any(child.is_alive() for child in children):
            await asyncio.sleep(0.25)
            with shared.get_lock():
                totals.update(zip(_COUNTS, shared[:], strict=True))
            show()
    finally:
        for child in children:
            if child.is_alive():
                child.terminate()
            child.join()
        with shared.get_lock():
            totals.update(zip(_COUNTS, shared[:], strict=True))
        show()
    failed = [child.exitcode for child in children if child.exitcode != 0]
    if failed:
        raise RuntimeError(f"a demo import process failed (exit codes {failed}); run the demo again to resume")


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
    """Fill the brand; safe to run again (adds only what is missing). With `database_url`, the members are
    imported by `options.processes` processes (the services' Python is the bottleneck, not the database)."""
    progress = Progress(out or sys.stdout)
    report = DemoReport()
    started = time.monotonic()
    async with sessions() as session:
        catalog = await _setup(session)
        await session.commit()
    await _members_phase(sessions, options, progress, report, database_url)
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
