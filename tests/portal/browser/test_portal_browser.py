"""The portal in Chromium at a phone's size: sign in with the code read from the SMTP sink, see home with points
and tier progress, open the wallet and a coupon's QR code. Screenshots for docs/portal.md."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Page, expect
from temporalio.worker import Worker

from tests.console.browser.conftest import PageProblems
from tests.support.helpers import ApiClient, order_body
from tests.support.messaging import SmtpSink, issued_coupon
from tests.support.portal import code_from_sink, portal_member


async def test_a_member_signs_in_on_a_phone_and_opens_a_coupon(
    phone: tuple[Page, PageProblems],
    base_url: str,
    shop: ApiClient,
    marketer: ApiClient,
    workers: list[Worker],
    smtp_sink: SmtpSink,
    screenshots: Path,
) -> None:
    tab, problems = phone
    member = await portal_member(shop, name="Lin Mei")
    assert (await shop.post("/api/v1/orders", json=order_body(member["id"], amount="640.00"))).status_code in (200, 201)
    code = await issued_coupon(marketer, shop, member["id"])

    await tab.goto(f"{base_url}/portal")
    await expect(tab).to_have_url(f"{base_url}/portal/sign-in")
    await tab.get_by_label("Email or mobile number").fill(member["email"])
    await tab.screenshot(path=str(screenshots / "portal-sign-in.png"))
    await tab.get_by_role("button", name="Send code").click()
    await expect(tab.get_by_role("heading", name="Enter your code")).to_be_visible()
    await tab.get_by_label("6-digit code").fill(await code_from_sink(smtp_sink, member["email"]))
    await tab.screenshot(path=str(screenshots / "portal-code.png"))
    await tab.get_by_role("button", name="Sign in").click()

    await expect(tab).to_have_url(f"{base_url}/portal")
    await expect(tab.get_by_role("heading", name="Hello, Lin Mei")).to_be_visible()
    await expect(tab.get_by_test_id("available-points")).to_have_text("640")
    await expect(tab.get_by_role("progressbar")).to_have_attribute("aria-valuenow", "64")
    await expect(tab.get_by_text("Spend more than 360.00 to reach Silver")).to_be_visible()
    await tab.screenshot(path=str(screenshots / "portal-home.png"), full_page=True)

    await tab.get_by_role("link", name="Wallet").click()
    await tab.get_by_role("link", name="Test offer").click()
    await expect(tab.get_by_test_id("coupon-code")).to_have_text(code)
    qr = tab.locator(".qr svg")
    await expect(qr).to_be_visible()
    box = await qr.bounding_box()
    assert box is not None
    assert box["width"] >= 200  # big enough to scan at the till
    await tab.screenshot(path=str(screenshots / "portal-coupon.png"), full_page=True)

    await tab.get_by_role("link", name="中文").click()
    await expect(tab.get_by_role("link", name="返回卡券")).to_be_visible()
    await tab.get_by_role("link", name="偏好设置").click()
    await expect(tab.get_by_role("heading", name="消息偏好")).to_be_visible()
    await tab.screenshot(path=str(screenshots / "portal-preferences-zh.png"), full_page=True)
    await tab.get_by_role("button", name="退出登录").click()
    await expect(tab.get_by_text("您已退出登录。")).to_be_visible()
    assert problems.items == []
