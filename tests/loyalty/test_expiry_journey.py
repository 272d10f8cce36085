"""The built-in `points_expiring` journey: the scan's event starts it, and its email reaches the SMTP sink with the
points and the date, and the rewards the member's available points still pay for (read at send time), in the
member's language. Real parts: the scan activity, the outbox, the worker and channel workers on the dev server,
aiosmtpd."""

from __future__ import annotations

import os
import random
import uuid
from collections.abc import Iterator
from datetime import timedelta
from email.message import EmailMessage

import pytest
import pytest_asyncio
from pydantic import SecretStr
from temporalio.testing import WorkflowEnvironment

from core.settings import Settings
from tests.loyalty.test_expiry_reminders import at, far_expiry_day
from tests.support.calendar_events import beyond_the_other_tests, events_of, scan
from tests.support.helpers import ApiClient, midday_zone
from tests.support.ledger import assert_ledger_ok, earn
from tests.support.loyalty import create_reward
from tests.support.messaging import Sessions, SmtpSink, new_member, running_sink, seed_templates, to_sink
from tests.support.temporal import HISTORIES, started_workers
from tests.support.waiting import eventually
from workflows import contracts


@pytest.fixture(scope="module")
def smtp_sink() -> Iterator[SmtpSink]:
    with running_sink() as sink:
        yield sink


@pytest.fixture
def settings(settings: Settings, smtp_sink: SmtpSink) -> Settings:
    return settings.model_copy(
        update={"messaging": to_sink(smtp_sink), "secret_key": SecretStr("test-secret-for-expiry-mail")}
    )


@pytest_asyncio.fixture(autouse=True)
async def seeded(sessions: Sessions) -> None:
    await seed_templates(sessions)


@pytest.mark.parametrize(
    ("locale", "subject", "listed"),
    [
        ("en", "1000 of your Tea House points expire on {day}", "{name}: {cost} points"),
        ("zh-CN", "您有1000积分将于{day}过期", "{name}：{cost}积分"),
    ],
)
async def test_the_reminder_email_lists_the_rewards_the_points_still_pay_for(
    shop: ApiClient,
    admin: ApiClient,
    sessions: Sessions,
    settings: Settings,
    smtp_sink: SmtpSink,
    temporal_dev: WorkflowEnvironment,
    locale: str,
    subject: str,
    listed: str,
) -> None:
    # Costs no other test's rewards come near, so these two are the dearest the member could afford or not.
    cost = 9_000_000 + random.randrange(100_000)
    affordable, too_dear = f"Teapot {uuid.uuid4().hex[:6]}", f"Tea table {uuid.uuid4().hex[:6]}"
    await create_reward(admin, cost=cost, stock=3, name=affordable)
    await create_reward(admin, cost=cost + 51, stock=None, name=too_dear)
    member = await new_member(shop, locale=locale, timezone=midday_zone(), consent={"email": True, "sms": False})
    member_id = uuid.UUID(member["id"])
    day = far_expiry_day()
    await earn(sessions, member_id, 1000, expires_at=at(day, 12))
    await earn(sessions, member_id, cost - 950, expires_at=at(day + timedelta(days=200), 12))  # cost + 50 in all

    result = await scan(temporal_dev, sessions, day - timedelta(days=30), task_queue=settings.temporal.task_queue)
    assert result.events["points_expiring"] == 1
    async with started_workers(temporal_dev.client, sessions, settings):
        expected = subject.format(day=day.isoformat())

        def reminders() -> list[EmailMessage]:  # the sign-up's welcome goes to the same address
            return [mail for mail in smtp_sink.to(member["email"]) if mail["Subject"] == expected]

        async def delivered() -> bool:
            return bool(reminders())

        await eventually(delivered, what="the points expiry email")
    assert len(reminders()) == 1
    html = reminders()[0].get_body(("html",))
    assert html is not None
    body = html.get_content()
    assert listed.format(name=affordable, cost=cost) in body
    assert too_dear not in body
    await assert_ledger_ok(sessions)


async def test_the_reminder_names_the_date_that_fired_it_not_the_next_one(
    shop: ApiClient,
    sessions: Sessions,
    settings: Settings,
    smtp_sink: SmtpSink,
    temporal_dev: WorkflowEnvironment,
) -> None:
    """Points expire sooner (in 10 days: no lead) than the date the 30-day reminder fires for: the email names the
    later date and its points, which the run carries from its trigger (`event.expires_on`)."""
    member = await new_member(shop, locale="en", timezone=midday_zone(), consent={"email": True, "sms": False})
    member_id = uuid.UUID(member["id"])
    fired_for = beyond_the_other_tests()
    sooner = fired_for - timedelta(days=20)
    await earn(sessions, member_id, 300, expires_at=at(sooner, 12))
    await earn(sessions, member_id, 1000, expires_at=at(fired_for, 12))

    await scan(temporal_dev, sessions, fired_for - timedelta(days=30), task_queue=settings.temporal.task_queue)
    assert [e["expires_on"] for e in await events_of(sessions, member_id, "points_expiring")] == [fired_for.isoformat()]
    async with started_workers(temporal_dev.client, sessions, settings):

        def reminders() -> list[EmailMessage]:
            return [mail for mail in smtp_sink.to(member["email"]) if "expire on" in str(mail["Subject"])]

        async def delivered() -> bool:
            return bool(reminders())

        await eventually(delivered, what="the points expiry email")
        if os.environ.get("MEMBERFLOW_RECORD_HISTORIES"):
            handle = temporal_dev.client.get_workflow_handle(
                contracts.journey_workflow_id("points_expiring", member_id)
            )
            await handle.result()
            (HISTORIES / "points_expiring_reminder.json").write_text((await handle.fetch_history()).to_json())
    assert [str(mail["Subject"]) for mail in reminders()] == [
        f"1000 of your Tea House points expire on {fired_for.isoformat()}"
    ]
    await assert_ledger_ok(sessions)
