"""A survey answered in Chromium at a phone's size (390×844): the invitation read from the SMTP sink, a detractor's
score with a comment after a first try without a score, the thank-you page, the same link again; and a custom
survey in Chinese. Screenshots for docs/care.md."""

from __future__ import annotations

import uuid
from pathlib import Path

from playwright.async_api import Page, expect
from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from models import StaffTask
from services import care
from services.platform import outbox
from tests.console.browser.conftest import PageProblems
from tests.support.helpers import ApiClient
from tests.support.messaging import Sessions, SmtpSink
from tests.support.portal import portal_member
from tests.support.surveys import custom_body, link_token, nps_body
from tests.support.waiting import value_when


async def _invite(sessions: Sessions, temporal: WorkflowEnvironment, key: str, member_id: str, queue: str) -> None:
    """Send the survey as a closed ticket does, and hand the invitation's start to Temporal at once."""
    async with sessions() as session:
        await care.send_survey(
            session, key, uuid.UUID(member_id), source="ticket", source_id=str(uuid.uuid4()), task_queue=queue
        )
        pending = outbox.take_pending_ids(session)
        await session.commit()
    await outbox.dispatch(sessions, temporal.client, ids=pending)


async def _link(sink: SmtpSink, address: str) -> str:
    messages = await value_when(lambda: _to(sink, address), bool, what=f"a survey invitation to {address}")
    body = messages[-1].get_body(("plain",))
    assert body is not None
    return link_token(str(body.get_content()))


def _unexpected(problems: PageProblems) -> list[str]:
    """What the page reported besides the statuses these tests ask for (a 422 answer page, a 400 for a bad link)."""
    expected = ("status of 422", "status of 400")
    return [item for item in problems.items if not any(status in item for status in expected)]


async def _to(sink: SmtpSink, address: str) -> list[object]:
    return list(sink.to(address))


async def test_a_detractor_answers_on_a_phone(
    phone: tuple[Page, PageProblems],
    base_url: str,
    shop: ApiClient,
    marketer: ApiClient,
    workers: list[Worker],
    temporal: WorkflowEnvironment,
    sessions: Sessions,
    smtp_sink: SmtpSink,
    screenshots: Path,
) -> None:
    tab, problems = phone
    member = await portal_member(shop, name="Lin Mei")
    survey = nps_body()
    assert (await marketer.post("/api/v1/surveys", json=survey)).status_code == 201
    queue = workers[0].task_queue
    await _invite(sessions, temporal, survey["key"], member["id"], queue)
    token = await _link(smtp_sink, member["email"])

    await tab.goto(f"{base_url}/portal/s/{token}")
    await expect(tab.get_by_role("heading", name="How did we do?")).to_be_visible()
    await expect(tab.get_by_text("How likely are you to recommend us to a friend?")).to_be_visible()
    await tab.screenshot(path=str(screenshots / "survey-nps.png"), full_page=True)
    await tab.get_by_label("What is the main reason for your score?").fill("The parcel came a week late")
    await tab.get_by_role("button", name="Send my answer").click()
    await expect(tab.get_by_role("alert").filter(has_text="Choose a score from 0 to 10.")).to_be_visible()
    await expect(tab.get_by_label("What is the main reason for your score?")).to_have_value(
        "The parcel came a week late"
    )
    await tab.screenshot(path=str(screenshots / "survey-nps-problem.png"), full_page=True)

    await tab.get_by_role("radio", name="3", exact=True).check()  # a tap on the 3: the radio covers its pill
    await expect(tab.get_by_role("radio", name="3", exact=True)).to_be_checked()
    await tab.get_by_role("button", name="Send my answer").click()
    await expect(tab.get_by_role("heading", name="Thank you!")).to_be_visible()
    await tab.screenshot(path=str(screenshots / "survey-thanks.png"), full_page=True)
    async with sessions() as session:
        task = (await session.execute(select(StaffTask).where(StaffTask.member_id == uuid.UUID(member["id"])))).one()[0]
    assert (task.title, task.assignee_role) == ("Call back", "account_manager")

    await tab.goto(f"{base_url}/portal/s/{token}")
    await expect(tab.get_by_role("heading", name="Already answered")).to_be_visible()
    await tab.goto(f"{base_url}/portal/s/{token[:-4]}AAAA")
    await expect(tab.get_by_role("heading", name="This survey link does not work")).to_be_visible()
    assert _unexpected(problems) == []


async def test_a_custom_survey_in_chinese_on_a_phone(
    phone: tuple[Page, PageProblems],
    base_url: str,
    shop: ApiClient,
    marketer: ApiClient,
    workers: list[Worker],
    temporal: WorkflowEnvironment,
    sessions: Sessions,
    smtp_sink: SmtpSink,
    screenshots: Path,
) -> None:
    tab, problems = phone
    member = await portal_member(shop, name="王芳", locale="zh-CN")
    survey = custom_body()
    assert (await marketer.post("/api/v1/surveys", json=survey)).status_code == 201
    await _invite(sessions, temporal, survey["key"], member["id"], workers[0].task_queue)
    token = await _link(smtp_sink, member["email"])

    await tab.goto(f"{base_url}/portal/s/{token}")
    await expect(tab.get_by_role("heading", name="您的到店体验")).to_be_visible()
    await tab.get_by_label("今年到店次数").fill("很多")
    await tab.get_by_role("button", name="提交").click()
    await expect(tab.get_by_text("请输入数字，例如3或4.5。")).to_be_visible()
    await expect(tab.get_by_text("请回答此问题。")).to_have_count(2)  # store and again: required
    await tab.screenshot(path=str(screenshots / "survey-custom-zh-problems.png"), full_page=True)
    await tab.get_by_label("shanghai").check()
    await tab.get_by_label("今年到店次数").fill("3")
    await tab.get_by_label("是", exact=True).check()
    await tab.get_by_label("staff").check()
    await tab.get_by_role("button", name="提交").click()
    await expect(tab.get_by_role("heading", name="感谢您的反馈！")).to_be_visible()
    assert _unexpected(problems) == []
