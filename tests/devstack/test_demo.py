"""The demo generator at small scale, against a database of its own: realistic shape, real ledger, history
through the bulk import (no journey, no rule points), and re-running (also after a run died half-way through
its import) adds nothing twice."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta

import pytest_asyncio
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment

from core.settings import Settings
from devstack import demo, demo_history
from devstack.demo_plan import LIVE_DAYS, plan_member, season_weight
from devstack.embedded import EmbeddedPostgres
from models import (
    AuditEntry,
    Campaign,
    LedgerTransaction,
    Member,
    MemberEvent,
    Order,
    OrderRefund,
    Redemption,
    RuleFiring,
    TemporalOutbox,
)
from services import imports
from services.loyalty import invariants
from services.platform import outbox
from services.rewards import approvals
from tests.support.brand import scratch_database
from worker import build_worker

Sessions = async_sessionmaker[AsyncSession]
MEMBERS = 150
# Small chunks, so the history import of 150 members has several and can be stopped between them.
OPTIONS = demo.DemoOptions(
    members=MEMBERS, seed=7, years=1, concurrency=3, processes=2, task_queue="demo-test", chunk_rows=40
)


@dataclass
class Brand:
    sessions: Sessions
    reports: list[demo.DemoReport]  # the first 100 members; the resumed run to 150; a run with nothing to add
    output: str
    crashed: demo_history.DemoImport  # the import a run killed after its first chunk left behind
    crashed_members: int  # what that first chunk had written


async def _run_killed_after_first_chunk(sessions: Sessions) -> tuple[demo_history.DemoImport, int]:
    """What a demo run for members 101..150 leaves when it dies after committing its import's first chunk:
    the import (files, chunks, `demo.history` row) in the database, one chunk done, nothing settled."""
    now = datetime.now(UTC)
    plans = [plan_member(OPTIONS.seed, i, now=now, years=OPTIONS.years) for i in range(101, MEMBERS + 1)]
    async with sessions() as session:
        created = await demo_history.create(
            session,
            [plan for plan in plans if not plan.live],
            now=now,
            seed=OPTIONS.seed,
            years=OPTIONS.years,
            chunk_rows=OPTIONS.chunk_rows,
        )
        await session.commit()
    assert created is not None
    async with sessions() as session:
        first = (await imports.chunk_ids(session, created.import_id))[0]
        result = await imports.run_chunk(session, first)
        await session.commit()
    return created, result.imported


@pytest_asyncio.fixture(scope="module")
async def brand(postgres: EmbeddedPostgres) -> AsyncIterator[Brand]:
    """100 members (in this process); a run to 150 killed after its import's first chunk; the next run (in
    two processes), which resumes that import; then a run with nothing to add."""
    db = await scratch_database(postgres, "demo", pool_size=OPTIONS.concurrency + 1)
    sessions, url = db.sessions, db.url
    out = io.StringIO()
    first = await demo.generate(sessions, replace(OPTIONS, members=100), out=out)
    crashed, crashed_members = await _run_killed_after_first_chunk(sessions)
    reports = [
        first,
        await demo.generate(sessions, OPTIONS, out=out, database_url=url),
        await demo.generate(sessions, OPTIONS, out=out, database_url=url),
    ]
    try:
        yield Brand(sessions, reports, out.getvalue(), crashed, crashed_members)
    finally:
        await db.engine.dispose()


async def _count(session: AsyncSession, model: type, *where: object) -> int:
    return int((await session.execute(select(func.count()).select_from(model).where(*where))).scalar_one())  # type: ignore[arg-type]


async def test_members_and_resume(brand: Brand) -> None:
    sessions, (first, resumed, again), output = brand.sessions, brand.reports, brand.output
    assert first.members == 100
    assert brand.crashed_members == OPTIONS.chunk_rows  # the killed run's first chunk: 40 members
    # The next run finishes the stopped import (not a second one) and adds the rest, nothing twice.
    assert resumed.imports == [str(brand.crashed.import_id)]
    assert first.members + brand.crashed_members + resumed.members == MEMBERS
    assert resumed.skipped_members == 100 + brand.crashed_members
    assert again.skipped_members == MEMBERS
    assert again.added_nothing
    assert again.imports == []
    assert (again.orders, again.events, again.refunds, again.redemptions, again.approvals) == (0, 0, 0, 0, 0)
    assert "nothing to add" in output.splitlines()[-1]
    assert output.count("members ") >= 3  # a progress line per run (plain lines: not a terminal)
    assert output.count("history ") >= 3
    async with sessions() as session:
        done = await imports.progress(session, brand.crashed.import_id)
        assert done.state == "completed"
        assert done.chunks_done == done.chunks_total > 2
        # Each row written once: the chunk done before the crash was not run again.
        assert {kind: (c.skipped, c.failed) for kind, c in done.kinds.items()} == dict.fromkeys(done.kinds, (0, 0))
        assert done.kinds["members"].imported == done.kinds["members"].rows
        assert await _count(session, AuditEntry, AuditEntry.action == demo_history.SETTLED_ACTION) == 2
    async with sessions() as session:
        assert await _count(session, Member) == MEMBERS
        locales = dict((await session.execute(select(Member.locale, func.count()).group_by(Member.locale))).all())
        assert set(locales) == {"en", "zh-CN"}
        assert min(locales.values()) > MEMBERS // 5
        consent = (
            await session.execute(select(Member.consent_email, func.count()).group_by(Member.consent_email))
        ).all()
        assert len(consent) == 2  # some with, some without
        zones = (await session.execute(select(func.count(func.distinct(Member.timezone))))).scalar_one()
        assert zones >= 4
        # Sign-ups are backdated over the year, not all today.
        oldest = (await session.execute(select(func.min(Member.created_at)))).scalar_one()
        assert oldest < datetime.now(UTC) - timedelta(days=300)


async def test_orders_follow_the_seasons_and_tiers_are_earned(brand: Brand) -> None:
    sessions, reports = brand.sessions, brand.reports
    async with sessions() as session:
        days = [
            placed.date()
            for placed in (await session.execute(select(Order.placed_at).where(Order.source == "demo"))).scalars()
        ]
        assert len(days) == reports[0].orders + reports[1].orders > 5 * MEMBERS // 2  # the crash wrote members only
        today = datetime.now(UTC).date()
        assert min(days) < today - timedelta(days=300)
        assert max(days) > today - timedelta(days=30)
        busy = [d for d in days if season_weight(d) >= 2.5]
        quiet = [d for d in days if season_weight(d) < 1.0]
        busy_days = sum(1 for n in range(365) if season_weight(today - timedelta(days=n)) >= 2.5)
        quiet_days = sum(1 for n in range(365) if season_weight(today - timedelta(days=n)) < 1.0)
        # Peak days (11.11, 6.18, before Chinese New Year) see several times the orders of a quiet weekday.
        assert len(busy) / busy_days > 2 * len(quiet) / quiet_days
        tiers = dict((await session.execute(select(Member.tier, func.count()).group_by(Member.tier))).all())
        assert tiers.get("silver", 0) > 0
        assert tiers.get("gold", 0) > 0
        assert tiers["member"] > tiers["gold"]
        statuses = dict((await session.execute(select(Order.status, func.count()).group_by(Order.status))).all())
        assert statuses.get("refunded", 0) > 0
        assert statuses.get("partially_refunded", 0) > 0
        assert await _count(session, OrderRefund) == reports[0].refunds + reports[1].refunds
        # Churn: some buyers stopped months ago while a core keeps buying.
        lapsed = await _count(session, Member, Member.last_purchase_at < datetime.now(UTC) - timedelta(days=120))
        recent = await _count(session, Member, Member.last_purchase_at > datetime.now(UTC) - timedelta(days=30))
        assert lapsed > 0
        assert recent > 0
        kinds = dict((await session.execute(select(MemberEvent.type, func.count()).group_by(MemberEvent.type))).all())
        assert kinds.get("checked_in", 0) > 0
        assert kinds.get("review_posted", 0) > 0
        check = await invariants.check(session)
        assert check.ok, check
        assert check.outstanding_points > 0


async def test_redemptions_and_pending_approvals(brand: Brand) -> None:
    sessions = brand.sessions
    async with sessions() as session:
        assert await _count(session, Redemption, Redemption.status == "completed") > 0
        pending = list(
            (await session.execute(select(Redemption.id).where(Redemption.status == "pending_approval"))).scalars()
        )
        assert len(pending) == 3  # max(3, members // 1000), not one more on the later runs
        starts = set(
            (
                await session.execute(
                    select(TemporalOutbox.workflow_id).where(TemporalOutbox.workflow_type == "RedemptionApproval")
                )
            ).scalars()
        )
        assert starts == {f"redemption-{rid}" for rid in pending}
        campaign = (await session.execute(select(Campaign).where(Campaign.name == demo.CAMPAIGN_NAME))).scalar_one()
        assert campaign.holdout_percent == 10
        assert campaign.status == "running"
        assert await _count(session, TemporalOutbox, TemporalOutbox.workflow_id == f"campaign-{campaign.id}") == 1


async def test_history_starts_no_journey_and_new_members_are_welcomed(brand: Brand) -> None:
    sessions = brand.sessions
    async with sessions() as session:
        cutoff = datetime.now(UTC) - timedelta(days=LIVE_DAYS)
        joined = dict((await session.execute(select(Member.id, Member.created_at))).all())
        rows = (
            await session.execute(
                select(TemporalOutbox.workflow_id, TemporalOutbox.workflow_type).where(
                    (TemporalOutbox.workflow_id.startswith("journey-"))
                    | (TemporalOutbox.workflow_id.startswith("rule-"))
                )
            )
        ).all()
        for workflow_id, _ in rows:
            member_id = next(m for m in joined if str(m) in workflow_id)
            assert joined[member_id] >= cutoff - timedelta(minutes=5), f"{workflow_id} for a member of long ago"
        live = [m for m, at in joined.items() if at >= cutoff]
        assert live  # a growing brand: some members joined this week
        welcomed = {w for w, _ in rows if w.startswith("journey-welcome-")}
        assert welcomed == {f"journey-welcome-{m}" for m in live}


def test_the_plan_is_deterministic() -> None:
    now = datetime(2026, 11, 24, 12, tzinfo=UTC)
    assert plan_member(7, 42, now=now, years=2) == plan_member(7, 42, now=now, years=2)
    assert plan_member(7, 42, now=now, years=2) != plan_member(8, 42, now=now, years=2)
    assert season_weight(date(2026, 11, 11)) > 4 * season_weight(date(2026, 11, 18))


async def test_history_events_earn_no_rule_points_and_the_week_s_members_earn_them_live(brand: Brand) -> None:
    """History mode evaluates no rule: an imported check-in, review or profile earns nothing (docs/import.md);
    a member of the last week signed up through the services earns the built-in awards as they happen."""
    sessions = brand.sessions
    cutoff = datetime.now(UTC) - timedelta(days=LIVE_DAYS)
    behaviour = ("checked_in", "review_posted", "profile_completed")
    async with sessions() as session:
        history = select(Member.id).where(Member.created_at < cutoff - timedelta(minutes=5))
        live = select(Member.id).where(Member.created_at >= cutoff)
        assert await _count(session, MemberEvent, MemberEvent.type.in_(behaviour), MemberEvent.member_id.in_(history))
        assert await _count(session, RuleFiring, RuleFiring.member_id.in_(history)) == 0
        awards = LedgerTransaction.idempotency_key.startswith("award:")
        assert await _count(session, LedgerTransaction, awards, LedgerTransaction.member_id.in_(history)) == 0
        earned_live = await _count(session, LedgerTransaction, awards, LedgerTransaction.member_id.in_(live))
        live_behaviour = await _count(
            session, MemberEvent, MemberEvent.type.in_(behaviour), MemberEvent.member_id.in_(live)
        )
        assert (earned_live > 0) == (live_behaviour > 0)
        # The imported orders earned by the earn rule, with the same key as POST /orders books it.
        earn = LedgerTransaction.idempotency_key.like("order:%:earn")
        assert await _count(session, LedgerTransaction, earn, LedgerTransaction.member_id.in_(history)) > MEMBERS
        check = await invariants.check(session)
        assert check.ok, check


async def test_the_worker_turns_the_big_redemptions_into_pending_approvals(
    brand: Brand, temporal_dev: WorkflowEnvironment, base_settings: Settings
) -> None:
    """What `make run`'s worker does with the demo's outbox: the relay starts the RedemptionApproval workflows,
    whose first activity puts each redemption in the approver inbox."""
    sessions = brand.sessions
    async with sessions() as session:
        ids = list(
            (
                await session.execute(
                    select(TemporalOutbox.id).where(TemporalOutbox.workflow_type == "RedemptionApproval")
                )
            ).scalars()
        )
    async with build_worker(temporal_dev.client, sessions, OPTIONS.task_queue, base_settings):
        assert await outbox.dispatch(sessions, temporal_dev.client, ids=ids) == 3
        for _ in range(200):
            async with sessions() as session:
                pending = await approvals.inbox(session, status="pending", limit=50)
            if len(pending) == 3:
                break
            await asyncio.sleep(0.05)
    assert len(pending) == 3
    assert {item.reward_name for item in pending} == {demo.APPROVAL_REWARD}
    assert all(item.redemption.requested_by == demo.APPROVAL_REQUESTED_BY for item in pending)
