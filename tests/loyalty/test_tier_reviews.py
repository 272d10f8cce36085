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
from temporalio.client import ScheduleActionStartWorkflow
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from core.settings import Settings
from core.timeutil import add_months
from models import Member, Tier
from services.intake import bootstrap, tier_review
from services.loyalty import tier_policy
from services.portal import account
from tests.support.helpers import ApiClient, assert_error, audit_rows
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
from worker import TIER_REVIEW_SCHEDULE_ID, ensure_schedules
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
    admin: ApiClient,
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
    # The 360 view shows the history, newest first.
    view = (await admin.get(f"/api/v1/members/{member}")).json()
    assert [(c["old_tier"], c["new_tier"], c["review_on"]) for c in view["tier_history"]] == [
        ("gold", "silver", str(review_on)),
        ("member", "gold", None),
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


async def test_policy_api_changes_no_one_its_dry_run_counts_exactly_and_bad_input_changes_nothing(
    admin: ApiClient, marketer: ApiClient, sessions: Sessions, set_policy: SetPolicy
) -> None:
    tomorrow = days_ago(-1)
    proposed = {"basis": "points_earned_window", "review_rule": "yearly", "review_month": tomorrow.month,
                "review_day": tomorrow.day}  # fmt: skip
    await set_policy()  # the defaults: lifetime spend
    before = await marketer.post("/api/v1/tiers/policy/dry-run", json=proposed)
    assert before.status_code == 200, before.text
    keeper, faller, riser, quiet = [await new_member(sessions) for _ in range(4)]
    await order(sessions, keeper, "6000.00", days_ago(10))  # 6,000 points this year: stays gold
    await order(sessions, faller, "6000.00", days_ago(400))  # gold, but nothing earned in the window
    await earn(sessions, uuid.UUID(riser), 2000)  # 2,000 points: silver under points, member by spend
    after = await marketer.post("/api/v1/tiers/policy/dry-run", json=proposed)
    assert after.status_code == 200, after.text

    def moved(tier: str) -> dict[str, int]:
        old = next(t for t in before.json()["by_tier"] if t["tier"] == tier)
        new = next(t for t in after.json()["by_tier"] if t["tier"] == tier)
        return {k: new[k] - old[k] for k in ("rise", "keep", "fall")}

    assert moved("gold") == {"rise": 0, "keep": 1, "fall": 1}
    assert moved("silver") == {"rise": 0, "keep": 0, "fall": 0}
    assert moved("member") == {"rise": 1, "keep": 1, "fall": 0}
    assert {k: after.json()[k] - before.json()[k] for k in ("rise", "keep", "fall")} == {
        "rise": 1,
        "keep": 2,
        "fall": 1,
    }

    put = await admin.put("/api/v1/tiers/policy", json=proposed)
    assert put.status_code == 200, put.text
    assert put.json()["basis"] == "points_earned_window"
    # Changing the basis re-evaluates no one until the next review.
    assert [await tier_of(sessions, m) for m in (keeper, faller, riser)] == ["gold", "gold", "member"]
    audit = await audit_rows(sessions, "policy")
    assert audit[-1]["action"] == "tiers.policy.update"

    current = (await admin.get("/api/v1/tiers/policy")).json()
    for bad, field in (
        ({**proposed, "review_month": 2, "review_day": 29}, "body.review_day"),
        ({**proposed, "basis": "weekly"}, "body.basis"),
        ({**proposed, "window_months": 0}, "body.window_months"),
        ({**proposed, "grace_days": -1}, "body.grace_days"),
        ({**proposed, "max_drop_per_review": "two"}, "body.max_drop_per_review"),
        ({**proposed, "surprise": 1}, "body.surprise"),
    ):
        error = assert_error(await admin.put("/api/v1/tiers/policy", json=bad), 422)
        assert field in [d["field"] for d in error["details"]], error
        assert_error(await marketer.post("/api/v1/tiers/policy/dry-run", json=bad), 422)
    assert_error(await marketer.put("/api/v1/tiers/policy", json=proposed), 403)
    assert (await admin.get("/api/v1/tiers/policy")).json() == current
    assert len(await audit_rows(sessions, "policy")) == len(audit)


async def test_the_daily_review_schedule_exists_on_the_dev_server(
    temporal_dev: WorkflowEnvironment, settings: Settings, task_queue: str
) -> None:
    await ensure_schedules(temporal_dev.client, settings)
    handle = temporal_dev.client.get_schedule_handle(TIER_REVIEW_SCHEDULE_ID)
    action = (await handle.describe()).schedule.action
    assert isinstance(action, ScheduleActionStartWorkflow)
    assert (action.workflow, action.task_queue) == (contracts.TIER_REVIEW_WORKFLOW, task_queue)


async def test_portal_progress_counts_the_basis_figure(sessions: Sessions, set_policy: SetPolicy) -> None:
    await set_policy(**ROLLING)
    member = await new_member(sessions)
    await order(sessions, member, "1200.00", days_ago(400))  # silver, but outside the window now
    await order(sessions, member, "300.00", days_ago(20))
    async with sessions() as session:
        home = await account.home(session, uuid.UUID(member))
    assert (home.progress.current.code, home.progress.following and home.progress.following.code) == (
        "silver",
        "gold",
    )
    assert home.progress.to_spend == Decimal("4700.00")  # 5,000.00 less the 300.00 of the window
