"""A paid plan's term on the time-skipping test server: twelve monthly coupons granted exactly once each, the
renewal reminder 7 days before the end reaching the SMTP sink, the benefits ended at expiry (the next order
earns without the plan's multiplier); a renewal before the end moves the end of the one running term, so no
reminder goes out for the old end and the coupons carry on into the second year."""

from __future__ import annotations

import os
from datetime import datetime, timedelta

import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from core.timeutil import add_months
from tests.support.helpers import ApiClient, create_member
from tests.support.ledger import assert_ledger_ok
from tests.support.messaging import Sessions, SmtpSink
from tests.support.plans import (
    buy,
    count_reminders,
    create_plan,
    member_plan,
    memberships,
    order,
    plan_coupons,
    reminders,
)
from tests.support.temporal import HISTORIES
from tests.support.waiting import value_when
from workflows import contracts

pytestmark = pytest.mark.time_skipping


def _keys(membership_id: object, months: range) -> list[str]:
    return sorted(f"membership:{membership_id}:coupon:{month}" for month in months)


async def test_a_full_term_grants_twelve_coupons_reminds_before_the_end_and_ends_the_benefits(
    admin: ApiClient,
    marketer: ApiClient,
    shop: ApiClient,
    workers: list[Worker],
    sessions: Sessions,
    smtp_sink: SmtpSink,
    temporal_env: WorkflowEnvironment,
) -> None:
    plan = await create_plan(admin, marketer)
    member = await create_member(shop, locale="en", timezone="UTC")
    member_id = member["id"]
    await buy(shop, member_id, plan)
    (membership,) = await memberships(sessions, member_id)
    ends_at = membership.ends_at
    assert ends_at == add_months(membership.started_at, 12)
    coupon = plan["monthly_coupon"]
    await value_when(lambda: plan_coupons(sessions, member_id, coupon), lambda k: len(k) == 1, what="the first coupon")

    await temporal_env.sleep(timedelta(days=200))  # months 1 to 6 fall due
    await value_when(
        lambda: plan_coupons(sessions, member_id, coupon),
        lambda k: k == _keys(membership.id, range(7)),
        what="seven coupons",
    )
    assert (await order(shop, member_id, "100.00"))["points_earned"] == 200  # the plan's ×2 while active
    assert await count_reminders(sessions, member_id) == 0

    await temporal_env.sleep(timedelta(days=159))  # 359 days in: a day past the reminder, 6 days before the end
    await value_when(
        lambda: plan_coupons(sessions, member_id, coupon),
        lambda k: k == _keys(membership.id, range(12)),
        what="twelve coupons",
    )
    (mail,) = await value_when(lambda: _mails(smtp_sink, member["email"]), bool, what="the renewal reminder")
    assert str(mail["Subject"]) == f"Your Tea House Plus ends on {ends_at.date().isoformat()}"
    assert await count_reminders(sessions, member_id) == 1
    assert (await member_plan(shop, member_id))["current"]["membership_id"] == str(membership.id)

    await temporal_env.sleep(timedelta(days=7))  # past the end
    handle = temporal_env.client.get_workflow_handle(
        contracts.plan_term_workflow_id(membership.id), result_type=contracts.PlanTermStatus
    )
    outcome = await handle.result()
    assert (outcome.status, outcome.coupons_granted, outcome.reminders_sent) == ("ended", 12, 1)
    (ended,) = await memberships(sessions, member_id)
    assert (ended.status, ended.ended_at) == ("ended", ends_at)
    assert (await member_plan(shop, member_id))["current"] is None
    assert (await order(shop, member_id, "100.00"))["points_earned"] == 100  # the multiplier is gone
    assert await plan_coupons(sessions, member_id, coupon) == _keys(membership.id, range(12))
    assert await count_reminders(sessions, member_id) == 1
    await assert_ledger_ok(sessions)

    history = (await handle.fetch_history()).to_json()
    assert member["email"] not in history  # ids only in Temporal
    assert member["name"] not in history
    if os.environ.get("MEMBERFLOW_RECORD_HISTORIES"):
        (HISTORIES / "plan_term.json").write_text(history)


async def _mails(sink: SmtpSink, address: str) -> list[object]:
    return [m for m in sink.to(address) if "ends on" in str(m["Subject"])]


async def test_a_renewal_before_the_end_moves_the_end_of_the_one_running_term(
    admin: ApiClient,
    marketer: ApiClient,
    shop: ApiClient,
    workers: list[Worker],
    sessions: Sessions,
    temporal_env: WorkflowEnvironment,
) -> None:
    plan = await create_plan(admin, marketer)
    member_id = (await create_member(shop, locale="en", timezone="UTC"))["id"]
    coupon = plan["monthly_coupon"]
    await buy(shop, member_id, plan)
    (first,) = await memberships(sessions, member_id)
    await temporal_env.sleep(timedelta(days=100))
    await value_when(
        lambda: plan_coupons(sessions, member_id, coupon),
        lambda k: k == _keys(first.id, range(4)),
        what="four coupons",
    )

    await buy(shop, member_id, plan)  # renewed 100 days in: the end moves a year on
    (renewed,) = await memberships(sessions, member_id)
    assert (renewed.id, renewed.renewals, renewed.ends_at) == (first.id, 1, add_months(first.ends_at, 12))
    await temporal_env.sleep(timedelta(days=275))  # ten days past the first end
    await value_when(
        lambda: plan_coupons(sessions, member_id, coupon),
        lambda k: k == _keys(first.id, range(13)),
        what="the thirteenth coupon",
    )
    handle = temporal_env.client.get_workflow_handle(
        contracts.plan_term_workflow_id(first.id), result_type=contracts.PlanTermStatus
    )
    status = await handle.query(contracts.STATUS_QUERY, result_type=contracts.PlanTermStatus)
    assert (status.status, status.ends_at) == ("active", renewed.ends_at)
    assert await count_reminders(sessions, member_id) == 0  # none for the end that moved

    await temporal_env.sleep(timedelta(days=360))  # past the new end
    outcome = await handle.result()
    assert (outcome.status, outcome.coupons_granted, outcome.reminders_sent) == ("ended", 24, 1)
    (reminder,) = await reminders(sessions, member_id)
    assert reminder.message_key.endswith(f":reminder:{renewed.ends_at.date().isoformat()}")

    await assert_ledger_ok(sessions)


def test_twelve_dues_for_a_twelve_month_term() -> None:
    from services.plans.term import grant_dues

    start = datetime.fromisoformat("2026-01-31T09:00:00+00:00")
    dues = grant_dues(start, add_months(start, 12))
    assert len(dues) == 12
    assert dues[1] == datetime.fromisoformat("2026-02-28T09:00:00+00:00")  # clamped to the month's end
