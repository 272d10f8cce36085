"""The console in headless Chromium: an approver approves a redemption and sees the points move, the dashboard
draws every chart without a console error, a marketer cannot open the inbox. Screenshots of each page go to
pytest's temporary folder, or to the folder MEMBERFLOW_SCREENSHOTS names (docs/screenshots for the README)."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

from playwright.async_api import Page, expect
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.worker import Worker

from models import JourneyRun
from services.journeys import tasks
from services.members import fields
from services.platform.api_keys import Role
from services.platform.audit import Actor
from tests.console.browser.conftest import PageProblems, sign_in_browser
from tests.support.campaigns import add_journey, add_members, add_segment, tag
from tests.support.console import pending_redemption
from tests.support.helpers import ApiClient, KeyMaker, member_body, order_body

Sessions = async_sessionmaker[AsyncSession]
Tab = tuple[Page, PageProblems]


async def _pending_redemption(shop: ApiClient, admin: ApiClient, sessions: Sessions) -> dict[str, Any]:
    approval = await pending_redemption(
        shop, admin, sessions, member_name="Chen Jing 陈静", reward_name="Espresso machine", stock=None, attempts=300
    )
    return {"member_id": str(approval.member_id), "approval_id": str(approval.id)}


async def test_an_approver_approves_a_redemption_and_sees_the_points_change(
    page: Tab,
    base_url: str,
    shop: ApiClient,
    admin: ApiClient,
    make_key: KeyMaker,
    workers: list[Worker],
    sessions: Sessions,
    screenshots: Path,
) -> None:
    tab, problems = page
    pending = await _pending_redemption(shop, admin, sessions)
    await tab.goto(f"{base_url}/console/login")
    await tab.screenshot(path=screenshots / "login.png")
    await sign_in_browser(tab, base_url, await make_key(Role.APPROVER))
    assert tab.url.endswith("/console/inbox")

    await tab.goto(f"{base_url}/console/members/{pending['member_id']}")
    await expect(tab.locator("#points-available")).to_contain_text("4,000")
    await expect(tab.locator("#points-posted")).to_have_text("10,000")
    await expect(tab.locator("#points-held")).to_have_text("6,000")
    await tab.screenshot(path=screenshots / "member.png")

    await tab.get_by_role("link", name="Inbox").click()
    card = tab.locator(f"#approval-{pending['approval_id']}")
    await expect(card).to_contain_text("6,000 points")
    # The approver's view of the member (services.privacy.masking): the first character, the masked phone.
    await expect(card.locator("dd").first).to_contain_text("C*")
    await expect(card.locator(".member-phone")).to_have_text("138****8000")
    await expect(card.locator(".member-email")).to_contain_text("***@example.com")
    await expect(card).not_to_contain_text("Chen Jing")
    await expect(card.locator(".hints")).to_contain_text("account created 0 day(s) before the request")
    await tab.screenshot(path=screenshots / "inbox.png")
    await card.get_by_label("Note for the audit log (optional)").fill("known customer")
    await card.get_by_role("button", name="Approve").click()
    await expect(tab.locator(".flash")).to_contain_text("Redemption of 6,000 points approved.")
    await expect(card).to_have_count(0)
    await expect(tab.locator("#history tbody tr").first).to_contain_text("approved")

    await tab.goto(f"{base_url}/console/members/{pending['member_id']}")
    await expect(tab.locator("#points-available")).to_contain_text("4,000")
    await expect(tab.locator("#points-posted")).to_have_text("4,000")
    await expect(tab.locator("#points-held")).to_have_text("0")
    assert problems.items == []


async def _journey_runs(sessions: Sessions, member_ids: list[str]) -> int:
    async with sessions() as session:
        return int(
            (
                await session.execute(
                    select(func.count()).where(JourneyRun.member_id.in_([uuid.UUID(m) for m in member_ids]))
                )
            ).scalar_one()
        )


async def test_the_dashboard_draws_every_chart_without_errors(
    page: Tab,
    base_url: str,
    shop: ApiClient,
    make_key: KeyMaker,
    workers: list[Worker],
    sessions: Sessions,
    screenshots: Path,
) -> None:
    tab, problems = page
    created: list[str] = []
    for i, amount in enumerate(("88.00", "1280.00", "6400.00")):
        member = (await shop.post("/api/v1/members", json=member_body(name=f"Dashboard member {i}"))).json()
        created.append(member["id"])
        for day in ("2026-09-03", "2026-10-12", "2026-11-02")[: i + 1]:
            order = order_body(member["id"], amount=amount, placed_at=f"{day}T08:00:00Z")
            assert (await shop.post("/api/v1/orders", json=order)).status_code in (200, 201)
    async with sessions() as session:
        await tasks.create(
            session,
            member_id=uuid.UUID(member["id"]),
            title="Call about the gold upgrade",
            assignee_role="ops",
            due_days=1,
            source_key=f"browser-{uuid.uuid4()}",
        )
        await session.commit()
    for _ in range(200):  # the welcome journeys the sign-ups started, for the funnel chart
        if await _journey_runs(sessions, created) >= len(created):
            break
        await asyncio.sleep(0.1)
    await sign_in_browser(tab, base_url, await make_key(Role.ADMIN))
    assert tab.url.endswith("/console")
    await expect(tab.locator('figure[data-chart="funnel-welcome"] svg rect')).not_to_have_count(0)
    charts = tab.locator("figure[data-chart]")
    for name in ("tiers", "active", "liability", "rfm", "retention"):
        figure = tab.locator(f'figure[data-chart="{name}"]')
        await expect(figure.locator("svg")).to_have_count(1)
        box = await figure.locator("svg").bounding_box()
        assert box is not None
        assert box["width"] > 100
        assert box["height"] > 30
    assert await charts.count() >= 5
    await expect(tab.locator('figure[data-chart="tiers"] svg rect')).not_to_have_count(0)
    await tab.screenshot(path=screenshots / "dashboard.png", full_page=False)

    await tab.goto(f"{base_url}/console/members?q=Dashboard+member")
    await expect(tab.locator("tbody tr")).not_to_have_count(0)
    await tab.screenshot(path=screenshots / "members.png")
    await tab.goto(f"{base_url}/console/journeys")
    await tab.screenshot(path=screenshots / "journeys.png")
    await tab.get_by_role("link", name="Welcome", exact=False).first.click()
    await expect(tab.locator("ol.steps li")).not_to_have_count(0)
    await tab.screenshot(path=screenshots / "journey.png")
    await tab.goto(f"{base_url}/console/rules")
    await tab.get_by_role("link", name="award_signed_up").click()
    await expect(tab.locator("main")).to_contain_text("THEN")
    await tab.screenshot(path=screenshots / "rule.png")
    await tab.goto(f"{base_url}/console/messages")
    await tab.screenshot(path=screenshots / "messages.png")
    await tab.goto(f"{base_url}/console/tasks")
    row = tab.locator("tr", has_text="Call about the gold upgrade")
    await tab.screenshot(path=screenshots / "tasks.png")
    await row.get_by_role("button", name="Mark done").click()
    await expect(tab.locator(".flash")).to_contain_text("Call about the gold upgrade: done")

    # An admin defines a custom field in the browser; the options box follows the type.
    key = "shoe_size"
    await tab.goto(f"{base_url}/console/fields")
    await tab.fill("#key", key)
    await tab.fill("#label_en", "Shoe size")
    await tab.fill("#label_zh_cn", "鞋码")
    await tab.select_option("#type", "single_select")
    await expect(tab.locator("#options")).to_be_visible()
    await tab.fill("#options", "38\n39\n40\n41\n42")
    try:
        await tab.get_by_role("button", name="Add field").click()
        await expect(tab.locator("tr", has_text=key)).to_contain_text("Shoe size")
        await tab.screenshot(path=screenshots / "fields.png")
    finally:
        async with sessions() as session:
            await fields.delete_field(session, key, force=True, actor=Actor.system("test"))
            await session.commit()
    assert problems.items == []


async def test_a_marketer_cannot_open_the_approver_inbox(
    page: Tab, base_url: str, make_key: KeyMaker, screenshots: Path
) -> None:
    tab, problems = page
    await sign_in_browser(tab, base_url, await make_key(Role.MARKETER))
    await expect(tab.get_by_role("navigation", name="Console").get_by_role("link", name="Inbox")).to_have_count(0)
    response = await tab.goto(f"{base_url}/console/inbox")
    assert response is not None
    assert response.status == 403
    await expect(tab.get_by_role("heading", name="Not allowed")).to_be_visible()
    await expect(tab.locator("main")).to_contain_text("does not open the inbox page")
    await tab.screenshot(path=screenshots / "forbidden.png")
    # Chromium reports the page's own 403 status on the console; nothing else may appear.
    assert len(problems.items) == 1
    assert "status of 403" in problems.items[0]
    assert "/console/inbox" in problems.items[0]


async def test_a_marketer_starts_a_campaign_and_sees_it_reach_100_percent(
    page: Tab,
    base_url: str,
    make_key: KeyMaker,
    workers: list[Worker],
    sessions: Sessions,
    screenshots: Path,
) -> None:
    tab, problems = page
    member_tag = tag()
    await add_members(sessions, 40, tags=[member_tag])
    segment_id = await add_segment(sessions, member_tag)
    kind = await add_journey(sessions)
    await sign_in_browser(tab, base_url, await make_key(Role.MARKETER))
    await tab.get_by_role("link", name="Campaigns").click()
    await tab.get_by_role("link", name="New campaign").click()
    await tab.get_by_label("Name").fill("Forty members, in the browser")
    await tab.get_by_label("Segment").select_option(str(segment_id))
    await expect(tab.locator("#segment-count")).to_have_text("40 members match now")  # counted live
    await tab.get_by_label("Journey").select_option(kind)
    await tab.get_by_label("Holdout (% kept out to measure uplift)").fill("10")
    await tab.get_by_label("Start now").check()
    await tab.screenshot(path=screenshots / "campaign_new.png")
    await tab.get_by_role("button", name="Create campaign").click()
    await expect(tab.locator(".flash")).to_contain_text("Campaign started.")
    await expect(tab.locator("#progress-percent")).to_have_text("100%", timeout=60_000)
    await expect(tab.locator("#campaign-status")).to_have_text("completed", timeout=10_000)
    await expect(tab.locator("#progress")).to_have_attribute("aria-valuenow", "100")
    await expect(tab.locator("#results")).to_be_visible()
    await tab.screenshot(path=screenshots / "campaign.png")
    await tab.get_by_role("link", name="Campaigns").click()
    await expect(tab.locator("tbody tr", has_text="Forty members, in the browser")).to_contain_text("completed")
    await tab.screenshot(path=screenshots / "campaigns.png")
    assert problems.items == []
