"""Tiers that requalify: a year of a member's life under a rolling 12-month spend with anniversary reviews
(upgrade on an order, the at-risk notice 30 days before the review with its email, the grace, the fall by one
tier), reviewed by the TierReviewWorkflow on the time-skipping server; a drop of two where allowed; lifetime
spend that never falls; points earned as the basis; a retried or concurrent review that changes nothing twice.

The policy is one global row: each test sets its own and the fixture puts the old one back. Reviews consider
every member due that day, so each test reviews dates only its own members' anniversaries fall on, and
asserts on its own members."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal

import pytest
from pydantic import SecretStr
from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from core.settings import Settings
from core.timeutil import add_months
from models import Member, Tier
from services.intake import bootstrap, tier_review
from services.loyalty import tier_policy
from tests.support.ledger import assert_ledger_ok, earn
from tests.support.messaging import SmtpSink, running_sink, to_sink
from tests.support.portal import SECRET
from tests.support.temporal import HISTORIES
from tests.support.tiers import (
    Sessions,
    SetPolicy,
    at,
    days_ago,
    history,
    new_member,
    order,
    set_policy,
    tier_events,
    tier_of,
)
from tests.support.waiting import value_when
from workflows import contracts

__all__ = ["set_policy"]

ROLLING = {"basis": "rolling_12m_spend", "review_rule": "anniversary", "at_risk_days": 30}


@pytest.fixture(scope="module")
def smtp_sink() -> Iterator[SmtpSink]:
    with running_sink() as sink:
        yield sink


@pytest.fixture
def settings(settings: Settings, smtp_sink: SmtpSink) -> Settings:
    return settings.model_copy(update={"messaging": to_sink(smtp_sink), "secret_key": SecretStr(SECRET)})


def anniversary(day: date) -> date:
    return add_months(at(day), 12).date()


async def review(
    env: WorkflowEnvironment, task_queue: str, on: date, *, record: str | None = None
) -> contracts.TierReviewReport:
    """One TierReviewWorkflow run for `on`; with MEMBERFLOW_RECORD_HISTORIES=1 and `record`, its history is saved
    for tests/workflows/test_replay.py."""
    handle = await env.client.start_workflow(
        contracts.TIER_REVIEW_WORKFLOW,
        contracts.TierReviewInput(on=on),
        id=f"tier-review-test-{uuid.uuid4()}",
        task_queue=task_queue,
        result_type=contracts.TierReviewReport,
    )
    report: contracts.TierReviewReport = await handle.result()
    if record and os.environ.get("MEMBERFLOW_RECORD_HISTORIES"):
        (HISTORIES / f"{record}.json").write_text((await handle.fetch_history()).to_json())
    return report


async def page(sessions: Sessions, on: date, *, notices: bool = False) -> tier_review.PageResult:
    """One page of the review (or of the notices) straight through the service, committed."""
    run = tier_review.at_risk_page if notices else tier_review.review_page
    async with sessions() as session:
        result = await run(session, on=on, after=None, limit=10_000, task_queue="unused")
        session.info.clear()
        await session.commit()
        return result


@pytest.mark.time_skipping
async def test_a_year_of_member_life_upgrade_notice_grace_and_a_fall_by_one_tier(
    temporal_env: WorkflowEnvironment,
    sessions: Sessions,
    set_policy: SetPolicy,
    workers: list[Worker],
    smtp_sink: SmtpSink,
    task_queue: str,
) -> None:
    async with sessions() as session:  # the built-in journey and its template
        await bootstrap.seed(session)
        await session.commit()
    await set_policy(**ROLLING, grace_days=7, max_drop_per_review=1)
    joined = days_ago(400)
    member = await new_member(sessions)
    await order(sessions, member, "6000.00", joined)  # straight to gold on the rolling spend
    assert await tier_of(sessions, member) == "gold"
    await order(sessions, member, "800.00", joined + timedelta(days=200))
    review_on = anniversary(joined)

    await review(temporal_env, task_queue, review_on - timedelta(days=31))  # 31 days before: no notice yet
    assert [kind for kind, _ in await tier_events(sessions, member)] == ["tier_changed"]
    report = await review(temporal_env, task_queue, review_on - timedelta(days=30), record="tier_review")
    assert report.notified >= 1
    await review(temporal_env, task_queue, review_on - timedelta(days=30))  # a re-run notifies no one twice
    notice = {"tier": "gold", "would_become": "silver", "amount_needed": "4200.01", "review_on": str(review_on)}
    events = await tier_events(sessions, member)
    assert events[1:] == [("tier_at_risk", notice)]
    # The built-in journey tells the member what is still needed.
    mail = await value_when(
        lambda: _mail_for(sessions, smtp_sink, member), lambda found: bool(found), what="the at-risk email"
    )
    assert "4200.01" in mail[0]
    assert str(review_on) in mail[0]

    # Grace: on the review date the member keeps gold; an order in the grace counts at the decision.
    await review(temporal_env, task_queue, review_on)
    assert await tier_of(sessions, member) == "gold"
    await order(sessions, member, "100.00", review_on + timedelta(days=3))
    await review(temporal_env, task_queue, review_on + timedelta(days=7))
    await review(temporal_env, task_queue, review_on + timedelta(days=7))  # retried: changes nothing twice
    assert await tier_of(sessions, member) == "silver"  # one tier down, though 900.00 buys only member
    assert [
        (h["old"], h["new"], h["direction"], h["reference_type"], h["review_on"])
        for h in await history(sessions, member)
    ] == [
        ("member", "gold", "up", "order", None),
        ("gold", "silver", "down", "review", review_on),
    ]
    reasons = [h["reason"] for h in await history(sessions, member)]
    assert reasons[1] == "review: rolling 12-month spend 900.00 below Gold's 5,000.00"
    assert reasons[0].endswith(": rolling 12-month spend 6,000.00 above Gold's 5,000.00")
    down = {"from": "gold", "to": "silver", "direction": "down", "review_on": str(review_on)}
    assert [e for e in await tier_events(sessions, member) if e[0] == "tier_changed"] == [
        ("tier_changed", {"from": "member", "to": "gold", "direction": "up"}),
        ("tier_changed", down),
    ]
    await assert_ledger_ok(sessions)


async def _mail_for(sessions: Sessions, sink: SmtpSink, member_id: str) -> list[str]:
    async with sessions() as session:
        email = (await session.execute(select(Member.email).where(Member.id == uuid.UUID(member_id)))).scalar_one()
    found = []
    for message in sink.to(str(email)):
        part = message.get_body(("html", "plain"))
        if part is not None and "Gold" in str(message["Subject"]):
            found.append(part.get_content())
    return found


async def test_max_drop_two_lets_a_review_lower_two_tiers(sessions: Sessions, set_policy: SetPolicy) -> None:
    await set_policy(**ROLLING, max_drop_per_review=2)
    joined = days_ago(430)
    member = await new_member(sessions)
    await order(sessions, member, "6000.00", joined)
    result = await page(sessions, anniversary(joined))
    assert result.fell >= 1
    assert await tier_of(sessions, member) == "member"
    changes = await history(sessions, member)
    assert [(h["old"], h["new"], h["reason"]) for h in changes[1:]] == [
        ("gold", "member", "review: rolling 12-month spend 0.00 below Gold's 5,000.00")
    ]
    await assert_ledger_ok(sessions)


async def test_lifetime_spend_never_falls_and_sends_no_notice(sessions: Sessions, set_policy: SetPolicy) -> None:
    await set_policy(basis="lifetime_spend", review_rule="anniversary", at_risk_days=30)
    joined = days_ago(460)
    member = await new_member(sessions)
    await order(sessions, member, "6000.00", joined)
    review_on = anniversary(joined)
    assert (await page(sessions, review_on - timedelta(days=30), notices=True)).processed == 0
    assert (await page(sessions, review_on)).processed == 0
    assert await tier_of(sessions, member) == "gold"
    assert [h["direction"] for h in await history(sessions, member)] == ["up"]
    assert [kind for kind, _ in await tier_events(sessions, member)] == ["tier_changed"]


async def test_points_earned_in_the_window_qualify_and_their_absence_lowers(
    sessions: Sessions, set_policy: SetPolicy
) -> None:
    """Under points earned, a threshold reads as points: 6,000 points earned reach gold at the order; a year
    on, with nothing earned in the window, the review lowers the member one tier."""
    await set_policy(basis="points_earned_window", review_rule="anniversary", window_months=12)
    joined = days_ago(490)
    member = await new_member(sessions)
    await order(sessions, member, "6000.00", joined)
    assert await tier_of(sessions, member) == "gold"
    await page(sessions, anniversary(joined))
    assert await tier_of(sessions, member) == "silver"
    reasons = [h["reason"] for h in await history(sessions, member)]
    assert reasons[0].endswith(": points earned in 12 months 6,000 points above Gold's 5,000 points")
    assert reasons[1] == "review: points earned in 12 months 0 points below Gold's 5,000 points"
    await assert_ledger_ok(sessions)


async def test_concurrent_reviews_of_one_day_change_a_member_once(sessions: Sessions, set_policy: SetPolicy) -> None:
    await set_policy(**ROLLING)
    joined = days_ago(520)
    member = await new_member(sessions)
    await order(sessions, member, "6000.00", joined)
    review_on = anniversary(joined)
    await asyncio.gather(*(page(sessions, review_on) for _ in range(4)))
    assert await tier_of(sessions, member) == "silver"
    assert [h["new"] for h in await history(sessions, member)] == ["gold", "silver"]
    assert [p.get("to") for k, p in await tier_events(sessions, member)] == ["gold", "silver"]


async def test_notice_amount_in_points_and_once_per_review(sessions: Sessions, set_policy: SetPolicy) -> None:
    await set_policy(basis="points_earned_window", review_rule="anniversary", at_risk_days=30)
    joined = days_ago(550)
    member = await new_member(sessions)
    await order(sessions, member, "6000.00", joined)
    await earn(sessions, uuid.UUID(member), 1200)  # an award now: inside the window of the coming review
    review_on = anniversary(joined)
    for _ in range(2):
        await page(sessions, review_on - timedelta(days=30), notices=True)
    events = [p for kind, p in await tier_events(sessions, member) if kind == "tier_at_risk"]
    # Posted today, the award is after the notice's day: the notice counts what was earned by then.
    assert events == [{"tier": "gold", "would_become": "silver", "amount_needed": "5001", "review_on": str(review_on)}]
    assert tier_policy.still_needed(
        tier_policy.TierPolicyIn(basis="points_earned_window"), _gold(), Decimal("1200")
    ) == Decimal("3801")


def _gold() -> Tier:
    return Tier(code="gold", name="Gold", rank=2, min_spend_exclusive=Decimal("5000.00"))
