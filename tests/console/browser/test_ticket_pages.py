"""Ticket pages in Chromium at phone size (390×844): a queue's board with the SLA clock and the breach of an
urgent ticket (time skipped past its first-response target), the ticket page's reply, assign and close forms,
and the member 360's tickets. Screenshots go to docs/screenshots/ticket-queue.png and ticket.png under
MEMBERFLOW_SCREENSHOTS=docs/screenshots."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from services.platform.api_keys import Role
from tests.console.browser.conftest import sign_in_browser
from tests.support.helpers import ApiClient, KeyMaker, create_member
from tests.support.tickets import new_queue, open_ticket, routed

pytestmark = pytest.mark.time_skipping
PHONE = {"width": 390, "height": 844}


async def test_an_agent_sees_the_sla_clock_and_works_a_breached_ticket(
    browser: Browser,
    base_url: str,
    shop: ApiClient,
    admin: ApiClient,
    make_key: KeyMaker,
    workers: list[Worker],
    temporal_env: WorkflowEnvironment,
    screenshots: Path,
) -> None:
    queue = await new_queue(admin, name="Deliveries")
    member = await create_member(shop, name="Li Wei", locale="en")
    urgent = await open_ticket(
        shop, member["id"], queue["code"], priority="urgent", subject="Order never arrived", category="delivery"
    )
    calm = await open_ticket(shop, member["id"], queue["code"], priority="low", subject="Gift wrap question")
    await routed(temporal_env.client, urgent["id"])
    await routed(temporal_env.client, calm["id"])
    await temporal_env.sleep(timedelta(hours=1, minutes=5))  # past the urgent ticket's first-response target

    context = await browser.new_context(viewport=PHONE)  # type: ignore[arg-type]
    context.set_default_timeout(15_000)
    tab = await context.new_page()
    problems: list[str] = []
    tab.on("pageerror", lambda error: problems.append(str(error)))
    await sign_in_browser(tab, base_url, await make_key(Role.OPS))
    await tab.get_by_role("link", name="Tickets").click()
    # By its address: other tests' queues may have names that start the same way.
    await tab.locator(f'a[href="/console/tickets/queues/{queue["code"]}"]').click()
    breached = tab.locator(f"[data-ticket='{urgent['id']}']")
    await expect(breached.locator(".badge")).to_have_text("SLA missed: first response")
    await expect(breached.locator(".sla")).to_contain_text("overdue")
    await expect(tab.locator(f"[data-ticket='{calm['id']}'] .sla")).to_contain_text("left")
    await tab.screenshot(path=screenshots / "ticket-queue.png", full_page=True)

    await breached.get_by_role("link").click()
    await expect(tab.locator("#ticket-breach")).to_contain_text("SLA missed: first response")
    await tab.get_by_label("Reply").fill("We are sorry: a courier picks up a replacement today.")
    await tab.get_by_role("button", name="Send reply").click()
    await expect(tab.locator(".flash")).to_contain_text("reply done")
    await expect(tab.locator("#history .reply")).to_contain_text("a courier picks up a replacement")
    await tab.get_by_label("Assign to").fill("alice")
    await tab.get_by_role("button", name="Assign").click()
    await expect(tab.locator("#ticket-assignee")).to_have_text("alice")
    await tab.get_by_label("Assign to").fill("alice")
    await tab.get_by_role("button", name="Assign").click()
    await expect(tab.get_by_role("alert")).to_contain_text("already assigned to alice")  # refused: nothing changed
    await tab.screenshot(path=screenshots / "ticket.png", full_page=True)
    await tab.get_by_role("button", name="Close ticket").click()
    await expect(tab.locator("#ticket-status")).to_have_text("closed")
    await expect(tab.get_by_role("button", name="Reopen ticket")).to_be_visible()

    await tab.goto(f"{base_url}/console/members/{member['id']}")
    rows = tab.locator("#member-tickets tbody tr")
    await expect(rows).to_have_count(2)
    await expect(tab.locator("#member-tickets")).to_contain_text("Order never arrived")
    await expect(tab.locator("#member-tickets")).to_contain_text("missed: first response")
    assert problems == []
    await context.close()
