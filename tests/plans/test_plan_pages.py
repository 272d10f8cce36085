"""The paid plan where people see it: the console's member 360 and the member's portal home show the plan, its
end date and its benefits, in the member's language."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
from fastapi import FastAPI

from tests.support.console import console_client, sign_in
from tests.support.helpers import ApiClient
from tests.support.plans import buy, create_plan, member_plan
from tests.support.portal import portal_member, sign_in_by_link


async def test_the_portal_home_shows_the_plan_its_end_and_benefits_in_the_members_language(
    http: httpx.AsyncClient, admin: ApiClient, marketer: ApiClient, shop: ApiClient
) -> None:
    plan = await create_plan(admin, marketer)
    member = await portal_member(shop, locale="zh-CN", timezone="Asia/Shanghai")
    await sign_in_by_link(http, member["id"])
    assert 'data-testid="paid-plan"' not in (await http.get("/portal")).text
    await buy(shop, member["id"], plan)
    ends = (await member_plan(shop, member["id"]))["current"]["ends_at"]
    text = (await http.get("/portal")).text
    assert 'data-testid="paid-plan"' in text
    assert "茶舍 Plus 会员" in text
    assert "每笔订单积分×2" in text
    assert "每月一张优惠券" in text
    assert "免运费" in text
    local_end = datetime.fromisoformat(ends).astimezone(ZoneInfo("Asia/Shanghai")).date()
    assert f"{local_end}到期" in text


async def test_the_console_member_page_shows_the_plan(
    app: FastAPI, admin: ApiClient, marketer: ApiClient, shop: ApiClient
) -> None:
    plan = await create_plan(admin, marketer, free_shipping=False)
    member = await portal_member(shop)
    await buy(shop, member["id"], plan)
    async with console_client(app) as browser:
        assert (await sign_in(browser, marketer.key)).status_code == 303
        page = await browser.get(f"/console/members/{member['id']}")
    assert page.status_code == 200
    assert 'id="paid-plan"' in page.text
    assert "Tea House Plus" in page.text
    assert f"monthly coupon {plan['monthly_coupon']}" in page.text
    assert "free shipping" not in page.text
