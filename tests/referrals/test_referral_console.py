"""The referral programme's console form: saved without JSON and audited, refused with each problem named
(and nothing saved), with the KPIs of the last 90 days beside it, also served as GET /api/v1/kpis/referrals."""

from __future__ import annotations

import uuid

from fastapi import FastAPI
from sqlalchemy import func, select

from models import AuditEntry
from services.platform.api_keys import Role
from tests.support.console import console_client, csrf, sign_in
from tests.support.coupons import create_template
from tests.support.helpers import ApiClient, KeyMaker, new_member_id
from tests.support.referrals import Sessions, code_of, programme_row, programme_set, sign_up, unique_contact

FORM = {
    "active": "on",
    "return_window_days": "30",
    "monthly_limit": "5",
    "referrer_reward": "coupon",
    "referrer_points": "",
    "referee_reward": "points",
    "referee_points": "300",
    "referee_coupon": "",
}


async def _audited(sessions: Sessions) -> int:
    async with sessions() as session:
        stmt = select(func.count()).where(AuditEntry.action == "referral_programme.update")
        return int((await session.execute(stmt)).scalar_one())


async def test_the_form_saves_the_programme_and_refuses_bad_input(
    app: FastAPI, make_key: KeyMaker, sessions: Sessions, admin: ApiClient
) -> None:
    template = (await create_template(admin, code=f"ref_{uuid.uuid4().hex[:8]}"))["code"]
    async with programme_set(sessions), console_client(app) as console:
        assert (await sign_in(console, await make_key(Role.MARKETER))).status_code == 303
        page = await console.get("/console/referrals")
        assert page.status_code == 200
        assert 'id="referral-kpis"' in page.text
        token = csrf(page.text)
        before = await _audited(sessions)
        for bad, problem in (
            ({"referrer_coupon": ""}, "a coupon reward names its coupon template"),
            ({"referrer_coupon": "no_such_template"}, "does not exist"),
            ({"monthly_limit": "0"}, "monthly_limit"),
            ({"return_window_days": "many"}, "return_window_days"),
        ):
            refused = await console.post(
                "/console/referrals", data={**FORM, "referrer_coupon": template, **bad, "csrf_token": token}
            )
            assert refused.status_code == 422, (bad, refused.status_code)
            assert problem in refused.text
        assert await _audited(sessions) == before
        assert (await programme_row(sessions)).return_window_days == 14  # nothing saved
        saved = await console.post(
            "/console/referrals", data={**FORM, "referrer_coupon": template, "csrf_token": token}
        )
        assert saved.status_code == 303, saved.text
        row = await programme_row(sessions)
        assert (row.return_window_days, row.monthly_limit, row.referrer_reward, row.referrer_coupon) == (
            30,
            5,
            "coupon",
            template,
        )
        assert (row.referrer_points, row.referee_reward, row.referee_points, row.referee_coupon) == (
            0,
            "points",
            300,
            None,
        )
        assert await _audited(sessions) == before + 1


async def test_the_kpi_route_counts_the_period(marketer: ApiClient, shop: ApiClient) -> None:
    answer = await marketer.get("/api/v1/kpis/referrals", params={"from": "2026-01-01", "to": "2026-01-31"})
    assert answer.status_code == 200, answer.text
    assert set(answer.json()) == {
        "referrals",
        "qualified",
        "conversions",
        "cancelled",
        "conversion_rate",
        "points_cost",
        "coupons_issued",
    }
    assert (await shop.get("/api/v1/kpis/referrals")).status_code == 403
    assert (
        await marketer.get("/api/v1/kpis/referrals", params={"from": "2026-02-01", "to": "2026-01-01"})
    ).status_code == 422


async def test_the_member_page_shows_code_link_and_referrals(
    app: FastAPI, make_key: KeyMaker, sessions: Sessions, shop: ApiClient
) -> None:
    referrer = await new_member_id(shop, **unique_contact())
    code = await code_of(sessions, referrer)
    referee = (await sign_up(shop, code)).json()["id"]
    async with console_client(app) as console:
        assert (await sign_in(console, await make_key(Role.MARKETER))).status_code == 303
        page = (await console.get(f"/console/members/{referrer}")).text
        section = page.split('<div id="referrals">', 1)[1].split("</div>", 1)[0]
        assert f"<code>{code}</code>" in section
        assert f"/portal/join?ref={code}" in section
        assert f'<a href="/console/members/{referee}">{referee}</a></td><td>linked</td>' in section
        theirs = (await console.get(f"/console/members/{referee}")).text.split('<div id="referrals">', 1)[1]
        assert f'Referred by <a href="/console/members/{referrer}">' in theirs
