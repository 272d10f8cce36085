"""The expiry reminders' lead days in Chromium, as an admin sets them on the checkout page: a repeated lead is
refused with its message and the boxes kept, then three leads are saved and shown in force. The saved row is
removed afterwards (the setting's [30, 7] is what the other tests expect). A screenshot for docs/loyalty.md."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio
from playwright.async_api import Page, expect
from sqlalchemy import delete

from models import PointsSettings
from services.platform.api_keys import Role
from tests.console.browser.conftest import PageProblems, sign_in_browser
from tests.support.helpers import KeyMaker
from tests.support.referrals import Sessions

REFUSED = "console error: Failed to load resource: the server responded with a status of 422"


@pytest_asyncio.fixture
async def leads_from_the_setting(sessions: Sessions) -> AsyncIterator[None]:
    async def clear() -> None:
        async with sessions() as session:
            await session.execute(delete(PointsSettings))
            await session.commit()

    await clear()
    yield
    await clear()


async def test_an_admin_sets_three_reminder_leads(
    page: tuple[Page, PageProblems],
    base_url: str,
    make_key: KeyMaker,
    screenshots: Path,
    leads_from_the_setting: None,
) -> None:
    tab, problems = page
    await sign_in_browser(tab, base_url, await make_key(Role.ADMIN))
    await tab.goto(f"{base_url}/console/checkout")
    await expect(tab.get_by_role("heading", name="Expiry reminders")).to_be_visible()
    await expect(tab.locator("#reminders-now")).to_have_text("In force: 30, 7 days before.")
    await expect(tab.get_by_label("Lead 1 (days)")).to_have_value("30")
    await expect(tab.get_by_label("Lead 2 (days)")).to_have_value("7")

    await tab.get_by_label("Lead 3 (days)").fill("7")
    await tab.get_by_role("button", name="Set reminders").click()
    await expect(tab.locator("#lead-problems")).to_contain_text("each lead may be given once")
    await expect(tab.get_by_label("Lead 3 (days)")).to_have_value("7")

    await tab.get_by_label("Lead 3 (days)").fill("2")
    await tab.get_by_role("button", name="Set reminders").click()
    await expect(tab.locator(".flash")).to_contain_text("Expiry reminders saved.")
    await expect(tab.locator("#reminders-now")).to_contain_text("In force: 30, 7, 2 days before")
    await expect(tab.get_by_label("Lead 3 (days)")).to_have_value("2")
    await tab.locator("#expiry-reminders").scroll_into_view_if_needed()
    await tab.screenshot(path=str(screenshots / "expiry-reminders.png"), full_page=True)
    url = f"{base_url}/console/checkout/expiry-reminders"
    assert [p for p in problems.items if not (p.startswith(REFUSED) and f"'url': '{url}'" in p)] == []
