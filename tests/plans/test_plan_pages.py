"""The paid plan where people see it: the console's member 360 and the member's portal home show the plan, its
end date and its benefits, in the member's language."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import httpx
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models import Plan
from tests.support.console import console_client, csrf, sign_in
from tests.support.helpers import ApiClient
from tests.support.plans import buy, create_plan, member_plan
from tests.support.portal import portal_member, sign_in_by_link

Sessions = async_sessionmaker[AsyncSession]


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


async def test_an_admin_adds_and_changes_a_plan_from_the_console_form_and_bad_input_is_shown(
    app: FastAPI, admin: ApiClient, marketer: ApiClient, sessions: Sessions
) -> None:
    code = f"gold_{uuid.uuid4().hex[:8]}"
    form = {
        "code": code,
        "name_en": "Gold Club",
        "name_zh_cn": "金卡俱乐部",
        "price": "199.00",
        "currency": "CNY",
        "sku": f"SKU-{code}",
        "term_months": "12",
        "earn_multiplier": "1.5",
        "refund_on_cancel": "proportional",
        "free_shipping": "1",
        "active": "1",
    }
    async with console_client(app) as browser:
        assert (await sign_in(browser, admin.key)).status_code == 303
        page = await browser.get("/console/plans")
        assert page.status_code == 200
        token = csrf(page.text)
        bad = await browser.post("/console/plans", data={**form, "price": "cheap", "csrf_token": token})
        assert bad.status_code == 422
        assert 'id="problems"' in bad.text
        assert "<code>price</code>" in bad.text
        assert code not in [p.code for p in await _plans(sessions)]
        made = await browser.post("/console/plans", data={**form, "csrf_token": token})
        assert made.status_code == 303, made.text
        (plan,) = [p for p in await _plans(sessions) if p.code == code]
        assert (plan.price, plan.earn_multiplier, plan.free_shipping) == (Decimal("199.00"), Decimal("1.50"), True)
        changed = await browser.post(
            f"/console/plans/{plan.id}", data={**form, "price": "189.00", "free_shipping": "", "csrf_token": token}
        )
        assert changed.status_code == 303, changed.text
    (plan,) = [p for p in await _plans(sessions) if p.code == code]
    assert (plan.price, plan.free_shipping) == (Decimal("189.00"), False)
    trail = (await admin.get("/api/v1/audit", params={"target_id": str(plan.id)})).json()["items"]
    assert [row["action"] for row in trail] == ["plan.update", "plan.create"]
    async with console_client(app) as browser:
        assert (await sign_in(browser, marketer.key)).status_code == 303
        assert (await browser.get("/console/plans")).status_code == 403


async def _plans(sessions: Sessions) -> list[Plan]:
    async with sessions() as session:
        return list((await session.execute(select(Plan))).scalars())
