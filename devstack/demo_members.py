"""The demo's per-member work through the services, one transaction per member, in one or more processes:

- a **live** member (joined in the last week) signs up, orders, refunds, checks in and redeems through the
  same services as the API, so their welcome journey starts, rules run and award points are earned;
- a **settle** job gives a history member (already brought in by the import) the refunds and the small
  redemptions of their plan, which a history file does not carry.

Both are safe to run again: a live member whose external id exists is skipped, a refund already recorded
is replayed (not counted), and a member with a demo redemption is not offered one again."""

from __future__ import annotations

import asyncio
import multiprocessing
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from core.errors import Conflict
from devstack.demo_plan import CURRENCY, ORDER_SOURCE, PlannedEvent, PlannedMember, PlannedOrder, plan_member
from models import LedgerAccount, Member, Order, Redemption, Reward
from services import members, rewards
from services.intake import events, orders, signups

REQUESTED_BY = "demo"
SMALL_REWARDS = ("Coffee voucher", "Canvas tote bag")
# Slot 0 counts the jobs done; the others are the Tally's fields.
COUNTS = ("done", "members", "orders", "refunds", "events", "redemptions")


@dataclass(frozen=True)
class Job:
    """One member's work: planned with the seed, years and moment of the run (or import) it belongs to."""

    mode: str  # "live" or "settle"
    index: int
    now: datetime
    seed: int
    years: int

    def plan(self) -> PlannedMember:
        return plan_member(self.seed, self.index, now=self.now, years=self.years)


@dataclass
class Tally:
    members: int = 0
    orders: int = 0
    refunds: int = 0
    events: int = 0
    redemptions: int = 0


async def _refund(session: AsyncSession, order_id: uuid.UUID, order: PlannedOrder, tally: Tally) -> None:
    assert order.refund is not None
    refund_id, amount, at = order.refund
    body = orders.RefundCreate(external_id=refund_id, amount=amount, refunded_at=at, reason="demo")
    outcome = await orders.refund(session, order_id, body)
    if not outcome.replayed:
        tally.refunds += 1


async def live_member(
    session: AsyncSession, plan: PlannedMember, catalog: dict[str, Reward], task_queue: str, tally: Tally
) -> None:
    """A member of the last week and everything they did, in time order, as the API would have taken it."""
    member = await signups.register(
        session,
        members.MemberCreate.model_validate(plan.profile),
        source="demo",
        task_queue=task_queue,
        joined_at=plan.joined_at,
    )
    tally.members += 1
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
            order_ids[order.external_id] = (await orders.ingest(session, body, task_queue=task_queue)).id
            tally.orders += 1

        return run

    def refund_order(order: PlannedOrder) -> Callable[[], Awaitable[None]]:
        return lambda: _refund(session, order_ids[order.external_id], order, tally)

    def ingest_event(event: PlannedEvent) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            body = events.EventCreate(
                member_id=member.id,
                type=event.type,
                occurred_at=event.occurred_at,
                properties=event.properties,
                event_id=event.event_id,
            )
            await events.ingest(session, body, task_queue=task_queue)
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


async def settle_member(
    session: AsyncSession, plan: PlannedMember, catalog: dict[str, Reward], task_queue: str, tally: Tally
) -> None:
    """An imported member's refunds (in time order), then their small redemptions, unless they had them."""
    member_id, ids = await _imported_orders(session, plan)
    if member_id is None:  # the import reported the row as bad (it is in the error file): nothing to settle
        return
    refunded = sorted((o for o in plan.orders if o.refund is not None), key=lambda o: o.refund[2])  # type: ignore[index]
    for order in refunded:
        if order.external_id in ids:
            await _refund(session, ids[order.external_id], order, tally)
    redeemed = await session.execute(
        select(Redemption.id).where(Redemption.member_id == member_id, Redemption.requested_by == REQUESTED_BY).limit(1)
    )
    if redeemed.scalar_one_or_none() is None:
        await _redeem_small(session, member_id, plan, catalog, task_queue, tally)


async def _imported_orders(session: AsyncSession, plan: PlannedMember) -> tuple[uuid.UUID | None, dict[str, uuid.UUID]]:
    member_id = (
        await session.execute(select(Member.id).where(Member.external_id == plan.external_id))
    ).scalar_one_or_none()
    if member_id is None:
        return None, {}
    rows = await session.execute(
        select(Order.external_id, Order.id).where(Order.member_id == member_id, Order.source == ORDER_SOURCE)
    )
    return member_id, dict(rows.all())


async def _redeem_small(
    session: AsyncSession,
    member_id: uuid.UUID,
    plan: PlannedMember,
    catalog: dict[str, Reward],
    task_queue: str,
    tally: Tally,
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


async def run_jobs(
    sessions: async_sessionmaker[AsyncSession],
    jobs: list[Job],
    *,
    concurrency: int,
    task_queue: str,
    on_member: Callable[[Tally], None],
) -> None:
    """These jobs, `concurrency` at a time (each member its own session and transaction)."""
    async with sessions() as session:
        catalog = {r.name: r for r in await rewards.catalog(session, active_only=False)}
    queue = iter(jobs)

    async def worker() -> None:
        for job in queue:  # the iterator is shared: each job goes to exactly one worker
            plan = job.plan()
            mine = Tally()
            async with sessions() as session:
                try:
                    if job.mode == "live":
                        await live_member(session, plan, catalog, task_queue, mine)
                    else:
                        await settle_member(session, plan, catalog, task_queue, mine)
                    await session.commit()
                except Conflict as exc:
                    if exc.code != "member_exists":  # another run signed this member up meanwhile
                        raise
                    await session.rollback()
                    continue
            on_member(mine)

    await asyncio.gather(*(worker() for _ in range(max(1, concurrency))))


def _slice_process(url: str, jobs: list[Job], concurrency: int, task_queue: str, shared: Any) -> None:
    """A child process's share of the jobs (Python is the bottleneck: one process per core)."""

    def count(mine: Tally) -> None:
        with shared.get_lock():
            shared[0] += 1
            for slot, name in enumerate(COUNTS[1:], start=1):
                shared[slot] += getattr(mine, name)

    async def run() -> None:
        engine = create_async_engine(url, pool_size=concurrency + 1)
        try:
            sessions = async_sessionmaker(engine, expire_on_commit=False)
            await run_jobs(sessions, jobs, concurrency=concurrency, task_queue=task_queue, on_member=count)
        finally:
            await engine.dispose()

    asyncio.run(run())


async def in_processes(
    url: str,
    jobs: list[Job],
    *,
    processes: int,
    concurrency: int,
    task_queue: str,
    totals: dict[str, int],
    show: Callable[[], None],
) -> None:
    """The jobs shared out over `processes` child processes; `totals` follows their counts."""
    context = multiprocessing.get_context("spawn")  # no fork of a running event loop and its connections
    shared = context.Array("q", len(COUNTS))
    children = [
        context.Process(
            target=_slice_process,
            args=(url, jobs[part::processes], concurrency, task_queue, shared),
            daemon=True,
        )
        for part in range(processes)
    ]
    for child in children:
        child.start()
    try:
        while any(child.is_alive() for child in children):
            await asyncio.sleep(0.25)
            with shared.get_lock():
                totals.update(zip(COUNTS, shared[:], strict=True))
            show()
    finally:
        for child in children:
            if child.is_alive():
                child.terminate()
            child.join()
        with shared.get_lock():
            totals.update(zip(COUNTS, shared[:], strict=True))
        show()
    failed = [child.exitcode for child in children if child.exitcode != 0]
    if failed:
        raise RuntimeError(f"a demo process failed (exit codes {failed}); run the demo again to resume")
