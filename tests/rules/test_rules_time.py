"""Time-triggered rules from the daily scan: birthdays once a year, inactivity once per silent spell, and the
seeds' birthday, churn-risk and pre-churn examples."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, timedelta

from sqlalchemy import select
from temporalio.client import ScheduleActionExecutionStartWorkflow, ScheduleActionStartWorkflow
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from activities.rules import RuleActivities, RuleScanInput, RuleScanResult
from core.settings import Settings
from models import Coupon, CouponTemplate, StaffTask, TemporalOutbox
from tests.support.clock import born_on_the_day, late_utc_evening, same_birthday_next_year, utc_today
from tests.support.helpers import ApiClient, order_body
from tests.support.rules import Sessions, create_rule, firings, new_scope, rule_body, scoped, scoped_member, tags
from worker import RULES_SCAN_SCHEDULE_ID, build_worker, ensure_schedules
from workflows.contracts import STATUS_QUERY, BatchStatus


async def _scan(temporal_dev: WorkflowEnvironment, sessions: Sessions, today: date) -> RuleScanResult:
    """The rules' daily scan as the schedule runs it; tests pass `zoned_sessions` to run it in each zone."""
    env = ActivityEnvironment(client=temporal_dev.client)
    result: RuleScanResult = await env.run(
        RuleActivities(sessions).daily_scan, RuleScanInput(today=today, task_queue="tq-rules-scan")
    )
    return result


async def _coupons(sessions: Sessions, member_id: str, template: str) -> int:
    async with sessions() as session:
        rows = await session.execute(
            select(Coupon.id)
            .join(CouponTemplate, CouponTemplate.id == Coupon.template_id)
            .where(Coupon.member_id == uuid.UUID(member_id), CouponTemplate.code == template)
        )
        return len(rows.all())


async def _tasks(sessions: Sessions, member_id: str) -> list[tuple[str, str]]:
    async with sessions() as session:
        rows = await session.execute(
            select(StaffTask.title, StaffTask.assignee_role)
            .where(StaffTask.member_id == uuid.UUID(member_id))
            .order_by(StaffTask.created_at)
        )
        return [(row.title, row.assignee_role) for row in rows]


async def test_birthday_coupon_and_account_manager_task_once_a_year(
    marketer: ApiClient,
    shop: ApiClient,
    sessions: Sessions,
    zoned_sessions: Sessions,
    temporal_dev: WorkflowEnvironment,
) -> None:
    """Seed 2: birthday → 20% coupon + a staff task for the account manager."""
    scope = new_scope()
    created = await create_rule(
        marketer,
        rule_body(
            scope,
            trigger={"event": "birthday"},
            actions=[
                {"issue_coupon": {"template": "birthday_20"}},
                {
                    "create_task": {
                        "title": "Birthday: call with a personal note",
                        "assignee_role": "account_manager",
                        "due_days": 1,
                    }
                },
            ],
        ),
    )
    today = utc_today()
    member_id = await scoped_member(shop, sessions, scope, birthday=born_on_the_day(today, 1991).isoformat())
    not_today = await scoped_member(
        shop, sessions, scope, birthday=born_on_the_day(today + timedelta(days=1), 1991).isoformat()
    )
    first = await _scan(temporal_dev, zoned_sessions, today)
    assert first.fired[created["name"]] == 1
    second = await _scan(temporal_dev, zoned_sessions, today)  # the schedule ran twice: nothing new
    assert created["name"] not in second.fired
    assert await _coupons(sessions, member_id, "birthday_20") == 1
    assert await _tasks(sessions, member_id) == [("Birthday: call with a personal note", "account_manager")]
    assert await _coupons(sessions, not_today, "birthday_20") == 0
    next_year = await _scan(temporal_dev, zoned_sessions, same_birthday_next_year(today))
    assert next_year.fired[created["name"]] == 1
    assert await _coupons(sessions, member_id, "birthday_20") == 2
    assert [f.event_key.rsplit(":", 2)[1] for f in await firings(sessions, created["id"])] == [
        str(today.year),
        str(today.year + 1),
    ]


async def test_birthday_days_before(
    marketer: ApiClient, shop: ApiClient, sessions: Sessions, temporal_dev: WorkflowEnvironment
) -> None:
    scope = new_scope()
    created = await create_rule(
        marketer,
        rule_body(scope, trigger={"event": "birthday", "days_before": 3}, actions=[{"tag": {"add": ["bday_soon"]}}]),
    )
    today = utc_today()
    soon = await scoped_member(
        shop, sessions, scope, birthday=born_on_the_day(today + timedelta(days=3), 1980).isoformat()
    )
    today_member = await scoped_member(shop, sessions, scope, birthday=born_on_the_day(today, 1980).isoformat())
    await _scan(temporal_dev, sessions, today)
    assert "bday_soon" in await tags(sessions, soon)
    assert "bday_soon" not in await tags(sessions, today_member)
    assert len(await firings(sessions, created["id"])) == 1


async def test_thirty_days_inactive_creates_a_churn_risk_callback_once_per_silent_spell(
    marketer: ApiClient,
    shop: ApiClient,
    sessions: Sessions,
    zoned_sessions: Sessions,
    temporal_dev: WorkflowEnvironment,
) -> None:
    """Seed 3: 30 days inactive → churn-risk callback task. The purchases are at 20:00 UTC, already the next
    day in Asia/Shanghai, and the scan runs in each session zone: a silent spell is counted in UTC days."""
    scope = new_scope()
    created = await create_rule(
        marketer,
        rule_body(
            scope,
            trigger={"event": "inactive_days", "days": 30},
            conditions=scoped(scope, {"field": "event.days", "op": "eq", "value": 30}),
            actions=[{"create_task": {"title": "Churn risk: call back", "assignee_role": "marketer", "due_days": 2}}],
        ),
    )
    today = utc_today()
    silent = await scoped_member(shop, sessions, scope)
    recent = await scoped_member(shop, sessions, scope)
    for member_id, days in ((silent, 30), (recent, 29)):
        placed = late_utc_evening(today - timedelta(days=days)).isoformat()
        assert (await shop.post("/api/v1/orders", json=order_body(member_id, placed_at=placed))).status_code == 201
    assert (await _scan(temporal_dev, zoned_sessions, today)).fired[created["name"]] == 1
    await _scan(temporal_dev, zoned_sessions, today)
    assert await _tasks(sessions, silent) == [("Churn risk: call back", "marketer")]
    assert await _tasks(sessions, recent) == []
    # The next day the other member's spell reaches 30 days; the first one's is past and does not repeat.
    await _scan(temporal_dev, zoned_sessions, today + timedelta(days=1))
    assert await _tasks(sessions, recent) == [("Churn risk: call back", "marketer")]
    assert len(await _tasks(sessions, silent)) == 1


async def test_high_value_member_ninety_days_silent_is_flagged_pre_churn_and_enters_win_back(
    marketer: ApiClient,
    shop: ApiClient,
    sessions: Sessions,
    zoned_sessions: Sessions,
    temporal_dev: WorkflowEnvironment,
) -> None:
    """Seed 5: high-value member 90 days without purchase → flag pre_churn + win-back journey."""
    scope = new_scope()
    await create_rule(
        marketer,
        rule_body(
            scope,
            trigger={"event": "inactive_days", "days": 90},
            conditions=scoped(scope, {"field": "lifetime_spend", "op": "gt", "value": 5000}),
            actions=[{"flag": {"set": "pre_churn"}}, {"start_journey": {"kind": "win_back"}}],
        ),
    )
    today = utc_today()
    placed = late_utc_evening(today - timedelta(days=90)).isoformat()
    big = await scoped_member(shop, sessions, scope)
    small = await scoped_member(shop, sessions, scope)
    await shop.post("/api/v1/orders", json=order_body(big, amount="6000.00", placed_at=placed))
    await shop.post("/api/v1/orders", json=order_body(small, amount="60.00", placed_at=placed))
    await _scan(temporal_dev, zoned_sessions, today)
    assert "pre_churn" in await tags(sessions, big)
    assert "pre_churn" not in await tags(sessions, small)
    async with sessions() as session:
        started = (
            await session.execute(
                select(TemporalOutbox.workflow_id, TemporalOutbox.dispatched_at).where(
                    TemporalOutbox.workflow_id.in_([f"journey-win_back-{big}", f"journey-win_back-{small}"]),
                    TemporalOutbox.action != "signal",  # orders signal any win-back run to end
                )
            )
        ).all()
    assert [row.workflow_id for row in started] == [f"journey-win_back-{big}"]
    assert started[0].dispatched_at is not None  # the scan delivered it to Temporal at once
    description = await temporal_dev.client.get_workflow_handle(f"journey-win_back-{big}").describe()
    assert description.workflow_type == "JourneyWorkflow"


async def test_the_rules_daily_scan_runs_from_its_schedule(
    marketer: ApiClient,
    shop: ApiClient,
    sessions: Sessions,
    temporal_dev: WorkflowEnvironment,
    settings: Settings,
    task_queue: str,
) -> None:
    scope = new_scope()
    created = await create_rule(
        marketer,
        rule_body(scope, trigger={"event": "birthday"}, actions=[{"tag": {"add": ["celebrated"]}}]),
    )
    member_id = await scoped_member(shop, sessions, scope, birthday=born_on_the_day(utc_today(), 2000).isoformat())
    client = temporal_dev.client
    await ensure_schedules(client, settings)
    await ensure_schedules(client, settings)  # a second worker start updates, never duplicates
    handle = client.get_schedule_handle(RULES_SCAN_SCHEDULE_ID)
    try:
        action = (await handle.describe()).schedule.action
        assert isinstance(action, ScheduleActionStartWorkflow)
        assert (action.workflow, action.task_queue) == ("RuleScanWorkflow", task_queue)
        async with build_worker(client, sessions, task_queue):
            await handle.trigger()
            for _ in range(200):
                if await firings(sessions, created["id"]):
                    break
                await asyncio.sleep(0.1)
            run = (await handle.describe()).info.recent_actions[-1]
            assert isinstance(run.action, ScheduleActionExecutionStartWorkflow)
            scan = client.get_workflow_handle(run.action.workflow_id)
            report = await scan.result()
            assert report["fired"][created["name"]] == 1
            status = await scan.query(STATUS_QUERY, result_type=BatchStatus)
            assert status == BatchStatus(state="done", report=report)
        assert "celebrated" in await tags(sessions, member_id)
    finally:
        await handle.delete()


async def test_a_29_february_birthday_is_celebrated_on_28_february_in_common_years(
    marketer: ApiClient, shop: ApiClient, sessions: Sessions, temporal_dev: WorkflowEnvironment
) -> None:
    scope = new_scope()
    created = await create_rule(marketer, rule_body(scope, trigger={"event": "birthday"}))
    leapling = await scoped_member(shop, sessions, scope, birthday="2000-02-29")
    await _scan(temporal_dev, sessions, date(2027, 2, 28))
    await _scan(temporal_dev, sessions, date(2028, 2, 28))  # a leap year: not yet
    assert len(await firings(sessions, created["id"], leapling)) == 1
    await _scan(temporal_dev, sessions, date(2028, 2, 29))
    keys = [f.event_key for f in await firings(sessions, created["id"], leapling)]
    assert keys == [f"birthday:{leapling}:2027:0", f"birthday:{leapling}:2028:0"]


async def test_the_rules_scan_reaches_every_due_member_however_many_pages_they_fill(
    marketer: ApiClient, shop: ApiClient, sessions: Sessions
) -> None:
    from services import rules

    scope = new_scope()
    created = await create_rule(marketer, rule_body(scope, trigger={"event": "birthday"}))
    today = utc_today()
    birthday = born_on_the_day(today, 1992).isoformat()
    born = [await scoped_member(shop, sessions, scope, birthday=birthday) for _ in range(5)]
    async with sessions() as session:
        fired = await rules.scan_due(session, today=today, task_queue="tq-rules-scan-pages", page_size=2)
        await session.commit()
    assert fired[created["name"]] == 5
    for member_id in born:
        assert len(await firings(sessions, created["id"], member_id)) == 1
