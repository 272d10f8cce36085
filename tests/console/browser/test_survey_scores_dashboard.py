"""NPS and CSAT on the dashboard in Chromium at phone size (390×844): the score tiles and charts, a survey comment
about a ticket in its category's terms, and the follow-up list leading from a detractor's answer to that ticket.
The shared database holds other tests' answers, so the exact figures are tested in tests/analytics; here what a
person sees. Screenshots go to docs/screenshots/voice-nps.png and voice-follow-up-survey.png under
MEMBERFLOW_SCREENSHOTS=docs/screenshots."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from playwright.async_api import Browser, expect
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.platform.api_keys import Role
from tests.console.browser.conftest import sign_in_browser
from tests.support.helpers import ApiClient, KeyMaker, create_member
from tests.support.voice import seeded_answer, seeded_queue, seeded_survey, seeded_ticket

PHONE = {"width": 390, "height": 844}


async def test_ops_see_nps_and_csat_and_follow_up_a_detractor(
    browser: Browser,
    base_url: str,
    shop: ApiClient,
    make_key: KeyMaker,
    sessions: async_sessionmaker[AsyncSession],
    screenshots: Path,
) -> None:
    # A category of its own, so this test's terms are only its own comment's.
    category = f"tea-{uuid.uuid4().hex[:6]}"
    member = uuid.UUID((await create_member(shop, name="Li Wei", locale="zh-CN"))["id"])
    now = datetime.now(UTC)
    async with sessions() as session:
        queue = await seeded_queue(session, "nps")
        ticket = await seeded_ticket(
            session,
            member_id=member,
            queue_id=queue,
            category=category,
            opened_at=now - timedelta(days=200),  # outside the terms' window: only the comment is read
            priority="normal",
            subject="Oolong tin",
            description="Where is my oolong tin?",
            closed_after=timedelta(days=1),
        )
        nps = await seeded_survey(session, "nps", "browser")
        csat = await seeded_survey(session, "csat", "browser")
        detractor = await seeded_answer(
            session,
            survey_id=nps,
            member_id=member,
            score=2,
            at=now - timedelta(minutes=1),
            comment="乌龙茶罐子又破损了，客服回复太慢",
            ticket_id=ticket,
        )
        # A few weeks of answers from Li Wei and from a silver member, so the charts have a shape to show.
        silver = uuid.UUID((await create_member(shop, name="Wang Fang", locale="zh-CN"))["id"])
        await session.execute(text("UPDATE members SET tier = 'silver' WHERE id = :id"), {"id": silver})
        for weeks_back, (score, who) in enumerate(
            [(9, member), (10, silver), (7, member), (3, silver), (10, member), (6, silver), (10, member), (4, silver)],
            start=1,
        ):
            at = now - timedelta(weeks=weeks_back)
            await seeded_answer(session, survey_id=nps, member_id=who, score=score, at=at)
            await seeded_answer(session, survey_id=csat, member_id=who, score=score // 2, at=at)
        await session.commit()

    context = await browser.new_context(viewport=PHONE)  # type: ignore[arg-type]
    context.set_default_timeout(15_000)
    tab = await context.new_page()
    problems: list[str] = []
    tab.on("pageerror", lambda error: problems.append(str(error)))
    await sign_in_browser(tab, base_url, await make_key(Role.OPS))
    await tab.get_by_role("link", name="Dashboard").click()
    section = tab.locator("#voice")
    await expect(section.locator("[data-kpi='nps'] b")).to_have_text(re.compile(r"^[+-]\d+\.\d$"))  # a signed score
    await expect(section.locator("[data-kpi='csat'] span")).to_have_text("CSAT (4–5)")
    for chart in ("nps-weekly", "nps-tiers", "csat-weekly", "csat-tiers"):
        await expect(section.locator(f"[data-chart='{chart}'] svg")).to_be_visible()
    await expect(section.locator("[data-chart='nps-tiers'] svg")).to_contain_text("silver")
    chinese = section.locator(f"[data-chart='terms-{category}-zh']")
    await expect(chinese.locator("figcaption")).to_have_text(f"{category} · Chinese · 1 text")
    await expect(chinese.locator("svg")).to_contain_text("乌龙茶")
    await section.locator("[data-kpi='nps']").scroll_into_view_if_needed()
    await tab.screenshot(path=screenshots / "voice-nps.png")
    await section.locator("[data-chart='nps-weekly']").scroll_into_view_if_needed()
    await tab.screenshot(path=screenshots / "voice-nps-charts.png")

    await section.get_by_role("link", name="texts with negative words").click()
    row = tab.locator(f"#follow-up li[data-answer='{detractor}']")
    await expect(row.locator("[data-flag='detractor']")).to_be_visible()
    await expect(row).to_contain_text("破损")
    await expect(row).to_contain_text("太慢")
    await expect(row).to_contain_text("score 2")
    await row.scroll_into_view_if_needed()
    await tab.screenshot(path=screenshots / "voice-follow-up-survey.png")
    await row.get_by_role("link", name="Survey answer").click()
    await tab.wait_for_url(f"**/console/tickets/{ticket}")
    await expect(tab.get_by_text("Oolong tin").first).to_be_visible()
    assert problems == []
    await context.close()
