"""The issue's second browser scenario, in Chromium on the time-skipping test server (the app, its outbox
delivery and the real workers all talk to this test's own server): staff open a ticket with the console's New
ticket form (a refused category first, the form keeping what was typed), the confirmation with the SLA reaches
the SMTP sink, time skips past the urgent ticket's first-response target and the breach shows on the ticket
page, staff close it, time skips past the survey delay, the member answers the CSAT survey read from the SMTP
sink as a detractor on a phone (390×844), and the callback task appears on the member 360 page.
Screenshots for docs/care.md: ticket-new.png, ticket-breached.png (staff, desktop), ticket-survey-csat.png and
ticket-survey-thanks.png (member, phone)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from playwright.async_api import Page, expect
from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from core.settings import Settings
from models import SurveySend, Ticket
from services.platform.api_keys import Role
from tests.console.browser.conftest import PageProblems, sign_in_browser
from tests.support.helpers import ApiClient, KeyMaker, zone_where_it_is
from tests.support.messaging import Sessions, SmtpSink
from tests.support.portal import portal_member
from tests.support.surveys import link_token
from tests.support.tickets import new_queue, routed
from tests.support.waiting import value_when
from workflows import contracts

pytestmark = pytest.mark.time_skipping


def _text(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    return "" if body is None else str(body.get_content())


async def _mails(sink: SmtpSink, address: str, needle: str) -> list[EmailMessage]:
    return [m for m in sink.to(address) if needle in str(m["Subject"]) or needle in _text(m)]


async def _ticket(sessions: Sessions, ticket_id: str) -> Ticket:
    async with sessions() as session:
        found = await session.get(Ticket, uuid.UUID(ticket_id))
        assert found is not None
        return found


async def _survey_sends(sessions: Sessions, member_id: str) -> list[SurveySend]:
    async with sessions() as session:
        stmt = select(SurveySend).where(SurveySend.member_id == uuid.UUID(member_id))
        return list((await session.execute(stmt)).scalars())


def _unexpected(problems: PageProblems) -> list[str]:
    """What a page reported besides the 422 of the refused form, which this test asks for."""
    return [item for item in problems.items if "status of 422" not in item]


async def _open_from_the_console(tab: Page, base_url: str, email: str, queue_name: str, screenshots: Path) -> str:
    """Staff open the ticket through the form, after one refused try; the new ticket's id."""
    await tab.get_by_role("link", name="Tickets", exact=True).click()
    await tab.get_by_role("link", name="New ticket").click()
    await expect(tab.get_by_role("heading", name="New ticket")).to_be_visible()
    await tab.get_by_label("Member").fill(email)
    await tab.get_by_label("Channel").select_option("phone")
    await tab.get_by_label("Category").fill("Late delivery")
    await tab.get_by_label("Priority").select_option(label="urgent: first reply within 1 h, resolved within 4 h")
    await tab.get_by_label("Queue").select_option(label=queue_name, timeout=5_000)
    await tab.get_by_label("Subject").fill("Order never arrived")
    await tab.get_by_label("Description").fill("Ordered a week ago; the tracking page shows nothing since.")
    await tab.get_by_role("button", name="Open ticket").click()
    await expect(tab.locator("#err-category")).to_have_text(
        "Use lower-case letters, digits, - or _ (for example delivery), at most 64 characters."
    )
    await expect(tab.get_by_label("Subject")).to_have_value("Order never arrived")  # kept what was typed
    await expect(tab.get_by_label("Priority")).to_have_value("urgent")
    await tab.screenshot(path=screenshots / "ticket-new.png", full_page=True)
    await tab.get_by_label("Category").fill("delivery")
    await tab.get_by_role("button", name="Open ticket").click()
    await expect(tab.locator(".flash")).to_contain_text("opened; the member is sent a confirmation with its SLA")
    await expect(tab.locator("#ticket-status")).to_have_text("open")
    return tab.url.split("/console/tickets/", 1)[1].split("?", 1)[0]


async def test_a_ticket_opened_in_the_console_escalates_closes_and_a_detractor_gets_a_callback(
    page: tuple[Page, PageProblems],
    phone: tuple[Page, PageProblems],
    base_url: str,
    shop: ApiClient,
    admin: ApiClient,
    make_key: KeyMaker,
    workers: list[Worker],
    temporal_env: WorkflowEnvironment,
    sessions: Sessions,
    settings: Settings,
    smtp_sink: SmtpSink,
    screenshots: Path,
) -> None:
    del workers  # running: they confirm, route, escalate and send the survey
    staff, staff_problems = page
    queue = await new_queue(admin, name=f"Deliveries {uuid.uuid4().hex[:6]}")
    # Local late morning now, early afternoon a day later: no quiet hours hold either message.
    member = await portal_member(shop, name="Chen Jing", timezone=zone_where_it_is(11))
    await sign_in_browser(staff, base_url, await make_key(Role.OPS))
    label = f"{queue['name']} ({queue['code']})"
    ticket_id = await _open_from_the_console(staff, base_url, member["email"], label, screenshots)
    ticket = await _ticket(sessions, ticket_id)
    assert (ticket.member_id, ticket.priority, ticket.category) == (uuid.UUID(member["id"]), "urgent", "delivery")

    # The workflow confirms with the SLA of its priority.
    await routed(temporal_env.client, ticket_id)
    reference = ticket_id.replace("-", "")[-8:].upper()
    [confirmation] = await value_when(
        lambda: _mails(smtp_sink, member["email"], reference), bool, what="the ticket confirmation"
    )
    assert "within 1 hours" in _text(confirmation)
    assert "within 4 hours" in _text(confirmation)

    # Past the urgent first-response target (1 h) without a reply: the breach is flagged and shown.
    await temporal_env.sleep(timedelta(hours=1, minutes=5))
    await value_when(lambda: _ticket(sessions, ticket_id), lambda t: t.breached_at is not None, what="the breach")
    await staff.reload()
    await expect(staff.locator("#ticket-breach")).to_contain_text("SLA missed: first response")
    await expect(staff.locator("#ticket-sla")).to_contain_text("overdue")
    await staff.screenshot(path=screenshots / "ticket-breached.png", full_page=True)
    await staff.get_by_role("button", name="Close ticket").click()
    await expect(staff.locator("#ticket-status")).to_have_text("closed")

    # Past the survey delay: the built-in CSAT survey goes out; its invitation's workflow is awaited so the
    # test server skips any wait the messaging layer makes.
    await temporal_env.sleep(timedelta(hours=settings.care.survey_delay_hours, minutes=30))
    [send] = await value_when(lambda: _survey_sends(sessions, member["id"]), bool, what="the survey send")
    assert (send.source, send.source_id) == ("ticket", ticket_id)
    invite = temporal_env.client.get_workflow_handle(contracts.survey_invite_workflow_id(send.id))
    assert (await invite.result())["result"] == "sent"
    [invitation] = await value_when(lambda: _mails(smtp_sink, member["email"], "/portal/s/"), bool, what="the link")

    tab, member_problems = phone
    await tab.goto(f"{base_url}/portal/s/{link_token(_text(invitation))}")
    await expect(tab.get_by_role("heading", name="How did we handle your request?")).to_be_visible()
    await tab.get_by_role("radio", name="1", exact=True).check()
    await tab.get_by_label("What is the main reason for your score?").fill("Nobody told me where my parcel was")
    await tab.screenshot(path=screenshots / "ticket-survey-csat.png", full_page=True)
    await tab.get_by_role("button", name="Send my answer").click()
    await expect(tab.get_by_role("heading", name="Thank you!")).to_be_visible()
    await tab.screenshot(path=screenshots / "ticket-survey-thanks.png", full_page=True)

    # The built-in detractor rule's callback task, on the member 360 page staff open next.
    await staff.goto(f"{base_url}/console/members/{member['id']}")
    await expect(staff.locator("table").filter(has_text="Call back").locator("tr", has_text="Call back")).to_have_count(
        1
    )
    await expect(staff.locator("#member-tickets")).to_contain_text("missed: first response")
    assert _unexpected(staff_problems) == []
    assert member_problems.items == []
