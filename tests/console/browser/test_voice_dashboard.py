"""The dashboard's voice of the customer in Chromium at phone size (390×844): the service figures and charts, the
terms of a category of its own in Chinese and English, and the follow-up list leading to the flagged ticket.
Screenshots go to docs/screenshots/voice-dashboard.png and voice-follow-up.png under
MEMBERFLOW_SCREENSHOTS=docs/screenshots."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from playwright.async_api import Browser, expect
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.platform.api_keys import Role
from tests.console.browser.conftest import sign_in_browser
from tests.support.helpers import ApiClient, KeyMaker, create_member
from tests.support.voice import seeded_queue, seeded_reply, seeded_ticket

PHONE = {"width": 390, "height": 844}


async def test_ops_read_the_voice_of_the_customer_and_open_a_flagged_ticket(
    browser: Browser,
    base_url: str,
    shop: ApiClient,
    make_key: KeyMaker,
    sessions: async_sessionmaker[AsyncSession],
    screenshots: Path,
) -> None:
    # A category of its own: the shared database holds other tests' tickets, this one's terms are only these.
    category = f"tea-{uuid.uuid4().hex[:6]}"
    member = await create_member(shop, name="Li Wei", locale="zh-CN")
    opened = datetime.now(UTC) - timedelta(days=3)
    async with sessions() as session:
        queue = await seeded_queue(session, "voc")
        common = {"member_id": uuid.UUID(member["id"]), "queue_id": queue, "category": category}
        flagged = await seeded_ticket(
            session,
            **common,
            opened_at=opened,
            priority="high",
            subject="茶叶罐破损",
            description="收到的茶叶罐破损了，乌龙茶撒了一半，很失望",
            responded_after=timedelta(hours=1),
        )
        await seeded_ticket(
            session,
            **common,
            opened_at=opened + timedelta(hours=2),
            priority="normal",
            subject="Oolong tin question",
            description="Which oolong tin keeps the tea fresh longest?",
            responded_after=timedelta(hours=3),
            closed_after=timedelta(hours=20),
        )
        await seeded_reply(session, flagged, "乌龙茶很香，但是包装太差", opened + timedelta(hours=5))
        await session.commit()

    context = await browser.new_context(viewport=PHONE)  # type: ignore[arg-type]
    context.set_default_timeout(15_000)
    tab = await context.new_page()
    problems: list[str] = []
    tab.on("pageerror", lambda error: problems.append(str(error)))
    await sign_in_browser(tab, base_url, await make_key(Role.OPS))
    await tab.get_by_role("link", name="Dashboard").click()
    section = tab.locator("#voice")
    await expect(section.get_by_role("heading", name="Voice of the customer")).to_be_visible()
    for chart in ("care-weekly", "care-sla-weekly", "care-categories", "care-priorities"):
        await expect(section.locator(f"[data-chart='{chart}'] svg")).to_be_visible()
    chinese = section.locator(f"[data-chart='terms-{category}-zh']")
    await expect(chinese.locator("figcaption")).to_have_text(f"{category} · Chinese · 2 texts")
    await expect(chinese.locator("svg")).to_contain_text("乌龙茶")
    english = section.locator(f"[data-chart='terms-{category}-en']")
    await expect(english.locator("svg")).to_contain_text("oolong")
    await section.locator("[data-chart='care-categories']").scroll_into_view_if_needed()
    await section.screenshot(path=screenshots / "voice-dashboard.png")

    await section.get_by_role("link", name="texts with negative words").click()
    rows = tab.locator(f"#follow-up li[data-ticket='{flagged}']")
    await expect(rows).to_have_count(2)  # the ticket (破损, 失望) and the member's reply (太差)
    await expect(rows.first).to_contain_text("太差")
    await expect(rows.last).to_contain_text("失望")
    await tab.screenshot(path=screenshots / "voice-follow-up.png", full_page=False)
    await rows.last.get_by_role("link").click()
    await expect(tab.get_by_text("茶叶罐破损").first).to_be_visible()
    assert problems == []
    await context.close()
