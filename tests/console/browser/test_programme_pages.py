"""The programme's console pages in Chromium, used as their users would: an admin sets the rate for points at
checkout and watches the worked example follow; a marketer changes the referral rewards, a refused value showing
its message with the inputs kept; an admin adds a paid plan from the form. The rate and the referral programme
are one global row each: they are put back after the test. Screenshots for docs/loyalty.md."""

from __future__ import annotations

import uuid
from pathlib import Path

from playwright.async_api import Page, expect

from services.platform.api_keys import Role
from tests.console.browser.conftest import PageProblems, sign_in_browser
from tests.support.checkouts import programme_rate
from tests.support.coupons import create_template
from tests.support.helpers import ApiClient, KeyMaker
from tests.support.referrals import Sessions, programme_row, programme_set

Tab = tuple[Page, PageProblems]


REFUSED = "console error: Failed to load resource: the server responded with a status of 422"


def _beyond_the_refusal(problems: PageProblems, url: str) -> list[str]:
    """The page's console problems, without the browser's own note on the 422 the refused form answered."""
    return [p for p in problems.items if not (p.startswith(REFUSED) and f"'url': '{url}'" in p)]


async def test_an_admin_sets_the_checkout_rate_and_the_worked_example_follows(
    page: Tab, base_url: str, make_key: KeyMaker, sessions: Sessions, screenshots: Path
) -> None:
    tab, problems = page
    async with programme_rate(sessions):  # 100 points = 1.00 CNY, at most 50%, at least 500, 30 minutes
        await sign_in_browser(tab, base_url, await make_key(Role.ADMIN))
        await tab.get_by_role("link", name="Checkout").click()
        await expect(tab.get_by_role("heading", name="Points at checkout")).to_be_visible()
        example = tab.locator("#example")
        # Half of a 200.00 CNY order, at 100 points = 1.00 CNY.
        await expect(tab.locator("#example-cap")).to_have_text("10,000")
        await expect(example).to_contain_text("(100.00 CNY)")

        await tab.get_by_label("Cap (% of the order)").fill("30")
        await tab.get_by_label("Value").fill("0")
        await tab.get_by_role("button", name="Save").click()
        await expect(tab.locator("#problems")).to_contain_text("unit_value")
        await expect(tab.get_by_label("Value")).to_have_value("0")
        await expect(tab.get_by_label("Cap (% of the order)")).to_have_value("30")
        await expect(tab.locator("#example-cap")).to_have_text("10,000")  # nothing saved

        await tab.get_by_label("Value").fill("1.00")
        await tab.get_by_label("Minimum points").fill("1000")
        await tab.get_by_role("button", name="Save").click()
        await expect(tab.locator(".flash")).to_contain_text("Points at checkout saved.")
        # 30% of 200.00 CNY = 60.00 CNY = 6,000 points.
        await expect(tab.locator("#example-cap")).to_have_text("6,000")
        await expect(example).to_contain_text("(60.00 CNY), at least 1,000")
        await expect(tab.get_by_label("Cap (% of the order)")).to_have_value("30")
        await tab.screenshot(path=str(screenshots / "checkout.png"), full_page=True)
    assert _beyond_the_refusal(problems, f"{base_url}/console/checkout") == []


async def test_a_marketer_changes_the_referral_rewards_and_a_refused_value_keeps_the_input(
    page: Tab, base_url: str, make_key: KeyMaker, sessions: Sessions, admin: ApiClient, screenshots: Path
) -> None:
    tab, problems = page
    template = (await create_template(admin, code=f"friend_{uuid.uuid4().hex[:8]}"))["code"]
    async with programme_set(sessions):  # 14 days, 10 a month, 500 points for the referrer, 200 for the friend
        await sign_in_browser(tab, base_url, await make_key(Role.MARKETER))
        await tab.get_by_role("link", name="Referrals").click()
        await expect(tab.get_by_role("heading", name="Referral programme")).to_be_visible()
        await expect(tab.locator("#referral-kpis")).to_be_visible()
        await expect(tab.get_by_label("The member who invites: points")).to_have_value("500")

        await tab.get_by_label("Return window (days)").fill("21")
        await tab.get_by_label("The member who invites: points").fill("750")
        await tab.get_by_label("The friend who joins gets").select_option("coupon")  # but no template chosen
        await tab.get_by_role("button", name="Save").click()
        await expect(tab.locator("#problems")).to_contain_text(
            "referee_coupon: a coupon reward names its coupon template"
        )
        await expect(tab.get_by_label("Return window (days)")).to_have_value("21")
        await expect(tab.get_by_label("The member who invites: points")).to_have_value("750")
        await expect(tab.get_by_label("The friend who joins gets")).to_have_value("coupon")
        assert (await programme_row(sessions)).return_window_days == 14  # nothing saved
        await tab.screenshot(path=str(screenshots / "referrals-refused.png"), full_page=True)

        await tab.get_by_label("The friend who joins: coupon template").select_option(template)
        await tab.get_by_role("button", name="Save").click()
        await expect(tab.locator(".flash")).to_contain_text("Referral programme saved.")
        await expect(tab.get_by_label("Return window (days)")).to_have_value("21")
        await expect(tab.get_by_label("The member who invites: points")).to_have_value("750")
        await expect(tab.get_by_label("The friend who joins: coupon template")).to_have_value(template)
        row = await programme_row(sessions)
        assert (row.return_window_days, row.referrer_points, row.referee_reward, row.referee_coupon) == (
            21,
            750,
            "coupon",
            template,
        )
        await tab.screenshot(path=str(screenshots / "referrals.png"), full_page=True)
    assert _beyond_the_refusal(problems, f"{base_url}/console/referrals") == []


async def test_an_admin_adds_a_paid_plan_from_the_form(
    page: Tab, base_url: str, make_key: KeyMaker, marketer: ApiClient, screenshots: Path
) -> None:
    tab, problems = page
    coupon = (await create_template(marketer, code=f"club_{uuid.uuid4().hex[:8]}"))["code"]
    code = f"club_{uuid.uuid4().hex[:8]}"
    await sign_in_browser(tab, base_url, await make_key(Role.ADMIN))
    await tab.get_by_role("link", name="Plans").click()
    await expect(tab.get_by_role("heading", name="Paid plans")).to_be_visible()
    await tab.get_by_label("Code").fill(code)
    await tab.get_by_label("Name (en)").fill("Tea Club")
    await tab.get_by_label("Name (zh-CN)").fill("茶友会")
    await tab.get_by_label("Price").fill("cheap")
    await tab.get_by_label("Shop SKU").fill(f"SKU-{code}")
    await tab.get_by_label("Earn multiplier").fill("1.5")
    await tab.get_by_label("Monthly coupon").select_option(coupon)
    await tab.get_by_label("Refund on cancel").select_option("proportional")
    await tab.get_by_label("Free shipping").check()
    await tab.get_by_role("button", name="Add plan").click()

    await expect(tab.locator("#problems")).to_contain_text("price")
    await expect(tab.get_by_label("Price")).to_have_attribute("aria-invalid", "true")
    await expect(tab.get_by_label("Price")).to_have_value("cheap")
    await expect(tab.get_by_label("Name (zh-CN)")).to_have_value("茶友会")
    await expect(tab.locator("table tbody")).not_to_contain_text(code)

    await tab.get_by_label("Price").fill("99.00")
    await tab.get_by_role("button", name="Add plan").click()
    await expect(tab.locator(".flash")).to_contain_text(f"Plan {code} added.")
    row = tab.locator("table tbody tr", has=tab.get_by_role("link", name=code))
    await expect(row).to_contain_text("Tea Club")
    await expect(row).to_contain_text("茶友会")
    await expect(row).to_contain_text("99.00 CNY")
    await expect(row).to_contain_text("12 months")
    await expect(row).to_contain_text(f"points ×1.50; coupon {coupon} monthly; free shipping")
    await expect(row).to_contain_text("proportional")
    await row.scroll_into_view_if_needed()
    await tab.screenshot(path=str(screenshots / "plans.png"), full_page=True)
    assert _beyond_the_refusal(problems, f"{base_url}/console/plans#form") == []
