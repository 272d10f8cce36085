"""The Tiers page in headless Chromium: an admin picks a basis and a yearly review date, runs the dry run (its
table and chart appear, the form keeps the values), types a bad grace and sees the message beside the input
with the value kept, then saves. The exact dry-run figures are tested over HTTP in tests/loyalty; here what a
person sees. The policy is global: `set_policy` puts it back. Screenshot: docs/screenshots/tiers.png under
MEMBERFLOW_SCREENSHOTS=docs/screenshots."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Page, expect

from services.loyalty import tier_policy
from services.platform.api_keys import Role
from tests.console.browser.conftest import PageProblems, sign_in_browser
from tests.support.helpers import KeyMaker
from tests.support.tiers import Sessions, SetPolicy, days_ago, new_member, order, set_policy

__all__ = ["set_policy"]


async def test_an_admin_dry_runs_a_policy_then_fixes_a_bad_grace_and_saves(
    page: tuple[Page, PageProblems],
    base_url: str,
    make_key: KeyMaker,
    sessions: Sessions,
    set_policy: SetPolicy,
    screenshots: Path,
) -> None:
    tab, problems = page
    await set_policy()
    faller = await new_member(sessions)
    await order(sessions, faller, "6000.00", days_ago(400))  # gold on spend long ago: falls under rolling spend
    await tab.set_viewport_size({"width": 1440, "height": 1000})
    await sign_in_browser(tab, base_url, await make_key(Role.ADMIN))
    await tab.get_by_role("link", name="Tiers", exact=True).click()
    await expect(tab.get_by_role("heading", name="Qualification policy")).to_be_visible()

    await tab.get_by_label("Basis").select_option("rolling_12m_spend")
    await tab.get_by_label("Review rule").select_option("yearly")
    await tab.get_by_label("Review month").select_option(label="July")
    await tab.get_by_label("Review day").select_option("1")
    await tab.get_by_label("Grace days").fill("14")
    await tab.get_by_role("button", name="Dry run").click()
    forecast = tab.locator("#forecast")
    await expect(forecast).to_be_visible()
    await expect(forecast.locator("thead th")).to_have_text(["Tier now", "Rise", "Keep", "Fall"])
    await expect(forecast.locator('tr[data-tier="gold"] td').first).to_have_text("gold")
    await expect(forecast.locator('tr[data-tier="gold"] td').nth(3)).not_to_have_text("0")  # the faller
    await expect(tab.locator("#forecast-chart svg")).to_have_attribute(
        "aria-label", "Members who would rise, keep or fall, by tier"
    )
    await expect(tab.get_by_label("Grace days")).to_have_value("14")  # the proposal stays in the form
    await expect(tab.get_by_label("Review month")).to_have_value("7")
    await tab.locator("#dry-run").scroll_into_view_if_needed()
    await tab.screenshot(path=screenshots / "tiers.png", full_page=True)

    await tab.get_by_label("Grace days").fill("-1")
    await tab.get_by_role("button", name="Save policy").click()
    await expect(tab.locator("#error-grace_days")).to_have_text("Input should be greater than or equal to 0")
    await expect(tab.get_by_label("Grace days")).to_have_value("-1")
    await expect(tab.get_by_label("Basis")).to_have_value("rolling_12m_spend")
    async with sessions() as session:
        assert (await tier_policy.get(session)).basis == "lifetime_spend"

    await tab.get_by_label("Grace days").fill("14")
    await tab.get_by_role("button", name="Save policy").click()
    await expect(tab.locator(".flash")).to_contain_text("Qualification policy saved")
    await expect(tab.locator("#saved-basis")).to_have_text("rolling 12-month spend")
    async with sessions() as session:
        saved = tier_policy.as_input(await tier_policy.get(session))
    assert (saved.basis, saved.review_month, saved.review_day, saved.grace_days) == ("rolling_12m_spend", 7, 1, 14)
    # The refused save answers 422 with the form (the browser logs that status); nothing else may be logged.
    refused = "the server responded with a status of 422"
    assert [p for p in problems.items if refused not in p or "/console/tiers/policy" not in p] == []
