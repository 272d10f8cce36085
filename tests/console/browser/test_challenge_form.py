"""A marketer defines a challenge in the console's form in Chromium: a bad target is refused with its message
on the field, then the corrected starter pack is saved. Screenshot for docs/loyalty.md."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Page, expect
from sqlalchemy import select, update

from models import Challenge
from services.platform.api_keys import Role
from tests.console.browser.conftest import PageProblems, sign_in_browser
from tests.support.challenges import Sessions, unique_code
from tests.support.helpers import KeyMaker


async def test_a_marketer_adds_a_starter_pack_in_the_form(
    page: tuple[Page, PageProblems], base_url: str, make_key: KeyMaker, sessions: Sessions, screenshots: Path
) -> None:
    tab, problems = page
    await sign_in_browser(tab, base_url, await make_key(Role.MARKETER))
    await tab.get_by_role("link", name="Challenges").click()
    await expect(tab.get_by_role("heading", name="Add a challenge")).to_be_visible()
    code = unique_code("starter")
    await tab.get_by_label("Code", exact=True).fill(code)
    await tab.get_by_label("Title (English)").fill("Starter pack")
    await tab.get_by_label("Title (简体中文)").fill("新手礼包")
    await tab.get_by_label("Who joins").select_option("opt_in")
    await tab.get_by_label("Window", exact=True).select_option("relative")
    await tab.get_by_label("Days (N days from joining)").fill("14")
    await tab.get_by_label("Complete the profile").check()
    await tab.get_by_label("Orders", exact=True).fill("1")
    await tab.get_by_label("Check-in days", exact=True).fill("2.5")
    await tab.get_by_label("Points", exact=True).fill("300")
    await tab.get_by_label("Badge code").fill("starter")
    await tab.get_by_label("Badge name (English)").fill("Off to a good start")
    await tab.get_by_label("Badge name (简体中文)").fill("新手上路")
    await tab.get_by_label("Badge icon").select_option("rocket")
    await tab.get_by_role("button", name="Add challenge").click()

    await expect(tab.get_by_role("alert")).to_contain_text("a count is a whole number")
    await expect(tab.get_by_label("Check-in days", exact=True)).to_have_attribute("aria-invalid", "true")
    async with sessions() as session:
        assert (await session.execute(select(Challenge).where(Challenge.code == code))).first() is None
    await tab.locator("form.form-grid").screenshot(path=str(screenshots / "console-challenge-form.png"))
    await tab.get_by_label("Check-in days", exact=True).fill("3")
    await tab.get_by_role("button", name="Add challenge").click()

    await expect(tab.get_by_role("heading", name=f"Challenge {code}")).to_be_visible()
    await expect(tab.get_by_text(f"Challenge {code} added.")).to_be_visible()
    async with sessions() as session:
        stored = (await session.execute(select(Challenge).where(Challenge.code == code))).scalar_one()
        assert [goal["kind"] for goal in stored.definition["goals"]] == [
            "profile_completed",
            "order_count",
            "checkin_days",
        ]
        await session.execute(update(Challenge).where(Challenge.id == stored.id).values(active=False))
        await session.commit()
    # The refused form answers 422, which Chromium logs; nothing else may show up.
    refused = "status of 422 (Unprocessable Entity) ({'url': '" + f"{base_url}/console/challenges#add'"
    assert [item for item in problems.items if refused not in item] == []
    assert len(problems.items) == 1
