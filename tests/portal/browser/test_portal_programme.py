"""The programme's cards on the portal home in Chromium at 390×844, as a member reads them: every upcoming
expiry (not only the next), the "Invite friends" card whose QR code carries the join link with their own code,
and their paid plan with its end and benefits, in English and then in Chinese. Screenshots for docs/loyalty.md."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

from playwright.async_api import Page, expect

from api.portal.pages import qr_svg
from core.settings import Settings
from tests.console.browser.conftest import PageProblems
from tests.support.helpers import ApiClient
from tests.support.ledger import earn
from tests.support.messaging import Sessions
from tests.support.plans import buy, create_plan
from tests.support.portal import link_token, portal_member
from tests.support.referrals import code_of

# Three lots, the nearest first; the plan's order earns a fourth, a year away.
LOTS = ((10, 300), (40, 200), (100, 100))
_PATH = re.compile(r'<path[^>]* d="([^"]+)"')


async def _member_with_plan_and_lots(
    shop: ApiClient, admin: ApiClient, marketer: ApiClient, sessions: Sessions
) -> tuple[dict[str, Any], list[tuple[str, int]], int]:
    """The member, their lots' (date, points) and the points in all (the plan order's earn included)."""
    plan = await create_plan(admin, marketer)
    member = await portal_member(shop, name="Wang Fang", locale="en")
    # Bought now, so its points expire in a year, after the three lots below.
    order = await buy(shop, member["id"], plan, placed_at=datetime.now(UTC).isoformat())
    today = datetime.now(UTC).date()
    lots = []
    for days, points in LOTS:
        expires = datetime.combine(today + timedelta(days=days), time(12), tzinfo=UTC)
        await earn(sessions, uuid.UUID(member["id"]), points, expires_at=expires)
        lots.append((expires.date().isoformat(), points))
    return member, lots, sum(points for _, points in LOTS) + int(order["points_earned"])


async def _expiry_rows(tab: Page) -> list[tuple[str, str]]:
    rows = tab.get_by_test_id("expiries").locator("tbody tr")
    return [
        (await row.locator("td").nth(0).inner_text(), await row.locator("td").nth(1).inner_text())
        for row in await rows.all()
    ]


async def _qr_path(tab: Page) -> str | None:
    return await tab.get_by_test_id("invite").locator(".qr svg path").first.get_attribute("d")


async def test_a_member_sees_every_expiry_the_invite_card_and_the_plan_in_english_and_chinese(
    phone: tuple[Page, PageProblems],
    base_url: str,
    shop: ApiClient,
    admin: ApiClient,
    marketer: ApiClient,
    sessions: Sessions,
    settings: Settings,
    screenshots: Path,
) -> None:
    tab, problems = phone
    member, lots, total = await _member_with_plan_and_lots(shop, admin, marketer, sessions)
    code = await code_of(sessions, member["id"])
    link = f"{settings.messaging.public_url}/portal/join?ref={code}"
    await tab.goto(f"{base_url}/portal/l/{link_token(member['id'])}")
    await expect(tab).to_have_url(f"{base_url}/portal")
    await expect(tab.get_by_role("heading", name="Hello, Wang Fang")).to_be_visible()

    # Every upcoming expiry: the first three dates here, with the total and a link to the fourth.
    await expect(tab.get_by_test_id("expiries").locator("tbody tr")).to_have_count(3)
    assert await _expiry_rows(tab) == [(day, f"{points:,}") for day, points in lots]
    await expect(tab.get_by_test_id("expiries-total")).to_have_text(f"{total:,} points in all")
    await expect(tab.get_by_role("link", name="Every expiry date")).to_have_attribute("href", "/portal/points#expiries")

    invite = tab.get_by_test_id("invite")
    await expect(invite.get_by_role("heading", name="Invite friends")).to_be_visible()
    await expect(invite).to_contain_text(f"Your code: {code}")
    await expect(tab.get_by_test_id("invite-link")).to_have_text(link)
    await expect(tab.get_by_test_id("invite-link")).to_have_attribute("href", link)
    qr = invite.locator(".qr svg")
    await expect(qr).to_be_visible()
    box = await qr.bounding_box()
    assert box is not None
    assert box["width"] >= 150  # big enough for a friend's phone to scan
    # The QR code drawn is the one of the join link with the member's code, module for module.
    expected = _PATH.search(str(qr_svg(link)))
    assert expected is not None
    assert await _qr_path(tab) == expected.group(1)

    plan = tab.get_by_test_id("paid-plan")
    await expect(plan).to_contain_text("Your plan")
    await expect(plan).to_contain_text("Tea House Plus")
    await expect(plan.locator(".benefits li")).to_have_text(
        ["×2 points on every order", "A coupon every month", "Free shipping"]
    )
    await expect(plan).to_contain_text(re.compile(r"Ends on \d{4}-\d{2}-\d{2}"))
    await tab.screenshot(path=str(screenshots / "portal-home-programme.png"), full_page=True)

    await tab.get_by_role("link", name="中文").click()
    await expect(tab.get_by_role("heading", name="积分过期时间")).to_be_visible()
    assert await _expiry_rows(tab) == [(day, f"{points:,}") for day, points in lots]
    await expect(tab.get_by_test_id("expiries-total")).to_have_text(f"共{total:,}积分")
    await expect(tab.get_by_role("link", name="查看全部过期日期")).to_be_visible()
    await expect(invite.get_by_role("heading", name="邀请好友")).to_be_visible()
    await expect(invite).to_contain_text(f"您的邀请码：{code}")
    assert await _qr_path(tab) == expected.group(1)
    await expect(plan).to_contain_text("我的付费会员")
    await expect(plan).to_contain_text("茶舍 Plus 会员")
    await expect(plan.locator(".benefits li")).to_have_text(["每笔订单积分×2", "每月一张优惠券", "免运费"])
    await expect(plan).to_contain_text(re.compile(r"\d{4}-\d{2}-\d{2}到期"))
    await tab.screenshot(path=str(screenshots / "portal-home-programme-zh.png"), full_page=True)

    await tab.get_by_role("link", name="查看全部过期日期").click()
    await expect(tab.get_by_test_id("expiries").locator("tbody tr")).to_have_count(4)
    assert problems.items == []
