"""The demo generator at small scale, against a database of its own: realistic shape, real ledger, no journey
for history, and re-running (also after an interruption) adds nothing twice."""

from __future__ import annotations

import asyncio
import io
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest_asyncio
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment

from core.settings import Settings
from devstack import demo
from devstack.demo_plan import LIVE_DAYS, plan_member, season_weight
from devstack.embedded import EmbeddedPostgres
from models import Campaign, Member, MemberEvent, Order, OrderRefund, Redemption, RuleFiring, TemporalOutbox
from services import members, rules
from services.intake import bootstrap, events, orders, signups
from services.loyalty import invariants, ledger
from services.platform import outbox
from services.platform.audit import Actor
from services.rewards import approvals
from services.rules.definition import RuleDefinition
from tests.support.brand import scratch_database
from tests.support.rules import scoped
from worker import build_worker

Sessions = async_sessionmaker[AsyncSession]
MEMBERS = 150
OPTIONS = demo.DemoOptions(members=MEMBERS, seed=7, years=1, concurrency=3, processes=2, task_queue="demo-test")


@pytest_asyncio.fixture(scope="module")
async def brand(postgres: EmbeddedPostgres) -> AsyncIterator[tuple[Sessions, list[demo.DemoReport], str]]:
    """Interrupted after 100 members (in this process), then run to the end (in two processes), then run
    again: the three reports."""
    db = await scratch_database(postgres, "demo", pool_size=OPTIONS.concurrency + 1)
    sessions, url = db.sessions, db.url
    out = io.StringIO()
    reports = [
        await demo.generate(sessions, replace(OPTIONS, members=100), out=out),
        await demo.generate(sessions, OPTIONS, out=out, database_url=url),
        await demo.generate(sessions, OPTIONS, out=out, database_url=url),
    ]
    try:
        yield sessions, reports, out.getvalue()
    finally:
        await db.engine.dispose()


async def _count(session: AsyncSession, model: type, *where: object) -> int:
    return int((await session.execute(select(func.count()).select_from(model).where(*where))).scalar_one())  # type: ignore[arg-type]


async def test_members_and_resume(brand: tuple[Sessions, list[demo.DemoReport], str]) -> None:
    sessions, (interrupted, completed, again), output = brand
    assert (interrupted.members, completed.members, again.members) == (100, 50, 0)
    assert completed.skipped_members == 100
    assert again.skipped_members == MEMBERS
    assert again.added_nothing
    assert (again.orders, again.events, again.approvals) == (0, 0, 0)
    assert "nothing to add" in output.splitlines()[-1]
    assert output.count("members ") >= 3  # a progress line per run (plain lines: not a terminal)
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


async def test_orders_follow_the_seasons_and_tiers_are_earned(
    brand: tuple[Sessions, list[demo.DemoReport], str],
) -> None:
    sessions, reports, _ = brand
    async with sessions() as session:
        days = [
            placed.date()
            for placed in (await session.execute(select(Order.placed_at).where(Order.source == "demo"))).scalars()
        ]
        assert len(days) == reports[0].orders + reports[1].orders > 5 * MEMBERS // 2
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


async def test_redemptions_and_pending_approvals(brand: tuple[Sessions, list[demo.DemoReport], str]) -> None:
    sessions, _, _ = brand
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


async def test_history_starts_no_journey_and_new_members_are_welcomed(
    brand: tuple[Sessions, list[demo.DemoReport], str],
) -> None:
    sessions, _, _ = brand
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


async def test_the_import_switch_keeps_points_and_rules_but_starts_nothing(sessions: Sessions) -> None:
    """An 18-month-old member and their history: backdated, points and database rules as usual, but no
    journey, no signal and no message rule; the same member's live order afterwards does start them."""
    scope = f"t_{uuid.uuid4().hex[:12]}"
    joined = datetime.now(UTC) - timedelta(days=548)
    on_order = {"trigger": {"event": "order_completed"}, "conditions": scoped(scope)}
    async with sessions() as session:
        await bootstrap.seed(session)
        quiet = await rules.create(
            session,
            RuleDefinition.model_validate(
                {
                    **on_order,
                    "name": f"{scope}_db",
                    "actions": [{"grant_points": {"points": 11}}, {"tag": {"add": ["imported"]}}],
                }
            ),
            actor=Actor.system("test"),
        )
        loud = await rules.create(
            session,
            RuleDefinition.model_validate(
                {
                    **on_order,
                    "name": f"{scope}_msg",
                    "actions": [
                        {"grant_points": {"points": 5}},
                        {"send_message": {"channel": "email", "template": "purchase_thanks"}},
                    ],
                }
            ),
            actor=Actor.system("test"),
        )
        member = await signups.register(
            session,
            members.MemberCreate(external_id=f"imp-{scope}", consent={"email": True}),
            source="import",
            task_queue="demo-test",
            start_journeys=False,
            joined_at=joined,
        )
        await members.change_tags(session, member.id, add=[scope], remove=[])
        await orders.ingest(
            session,
            orders.OrderCreate(
                external_id=f"{scope}-1",
                member_id=member.id,
                amount=Decimal("1200.00"),  # first purchase and an upgrade to silver: both would start journeys
                currency="CNY",
                placed_at=joined + timedelta(days=3),
            ),
            task_queue="demo-test",
            start_journeys=False,
        )
        checked_in = await events.ingest(
            session,
            events.EventCreate(
                member_id=member.id, type="checked_in", occurred_at=datetime.now(UTC) - timedelta(days=200)
            ),
            task_queue="demo-test",
            start_journeys=False,
        )
        await session.commit()
    async with sessions() as session:
        stored = await members.get(session, member.id)
        assert stored.created_at == joined
        assert stored.consent_email_at == joined
        assert stored.tier == "silver"
        assert "imported" in stored.tags
        assert checked_in.points_awarded > 0  # the built-in award rule is a database action
        assert (await ledger.balance(session, member.id)).posted == 1200 + 11 + checked_in.points_awarded
        assert await _count(session, TemporalOutbox, TemporalOutbox.workflow_id.contains(str(member.id))) == 0
        assert await _count(session, TemporalOutbox, TemporalOutbox.workflow_id.contains(str(loud.id))) == 0
        assert await _count(session, RuleFiring, RuleFiring.rule_id == loud.id) == 0
        assert await _count(session, RuleFiring, RuleFiring.rule_id == quiet.id) == 1
        # The same member buying today is live: the message rule fires and its workflow waits in the outbox.
        await orders.ingest(
            session,
            orders.OrderCreate(
                external_id=f"{scope}-2",
                member_id=member.id,
                amount=Decimal("10.00"),
                currency="CNY",
                placed_at=datetime.now(UTC) - timedelta(minutes=1),
            ),
            task_queue="demo-test",
        )
        await session.commit()
        assert await _count(session, RuleFiring, RuleFiring.rule_id == loud.id) == 1
        assert await _count(session, TemporalOutbox, TemporalOutbox.workflow_id.contains(str(loud.id))) == 1


async def test_the_worker_turns_the_big_redemptions_into_pending_approvals(
    brand: tuple[Sessions, list[demo.DemoReport], str], temporal_dev: WorkflowEnvironment, base_settings: Settings
) -> None:
    """What `make run`'s worker does with the demo's outbox: the relay starts the RedemptionApproval workflows,
    whose first activity puts each redemption in the approver inbox."""
    sessions, _, _ = brand
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
