"""Every upcoming expiry in the member 360 view (API and console): points grouped by date in the member's time
zone, what is left after spends, nothing already due, the first 24 dates and "and N more" with the total."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.schemas.members import Member360Out
from core.settings import Settings
from services.analytics import member360
from services.platform.api_keys import Role
from services.privacy.masking import View
from tests.support.calendar_events import member_with_26_dates
from tests.support.console import console_client, sign_in
from tests.support.helpers import ApiClient, KeyMaker, new_member_id
from tests.support.ledger import assert_ledger_ok

Sessions = async_sessionmaker[AsyncSession]


async def _member_with_26_dates(shop: ApiClient, sessions: Sessions) -> tuple[str, date]:
    member_id = await new_member_id(shop, timezone="Asia/Shanghai")
    return member_id, await member_with_26_dates(sessions, uuid.UUID(member_id))


def _expected(first: date) -> dict[str, Any]:
    dates = [{"expires_on": first.isoformat(), "points": 5}] + [
        {"expires_on": (first + timedelta(weeks=week)).isoformat(), "points": 10} for week in range(1, 24)
    ]
    return {"dates": dates, "total": 5 + 25 * 10, "more_dates": 2, "more_points": 20}


async def test_the_360_lists_every_upcoming_expiry_by_date_with_the_total(
    shop: ApiClient, sessions: Sessions, settings: Settings
) -> None:
    member_id, first = await _member_with_26_dates(shop, sessions)
    response = await shop.get(f"/api/v1/members/{member_id}")
    assert response.status_code == 200, response.text
    assert response.json()["expiries"] == _expected(first)
    async with sessions() as session:
        view = await member360.view(session, uuid.UUID(member_id))
    out = Member360Out.of_view(
        view, temporal_ui=settings.temporal.ui_url, namespace=settings.temporal.namespace, view=View(Role.INTEGRATION)
    )
    assert out.model_dump(mode="json")["expiries"] == _expected(first)  # the ORM path agrees
    await assert_ledger_ok(sessions)


async def test_a_member_without_points_has_no_expiries(shop: ApiClient) -> None:
    member_id = await new_member_id(shop)
    response = await shop.get(f"/api/v1/members/{member_id}")
    assert response.json()["expiries"] == {"dates": [], "total": 0, "more_dates": 0, "more_points": 0}


async def test_the_console_member_page_lists_the_dates_and_the_rest(
    app: FastAPI, make_key: KeyMaker, shop: ApiClient, sessions: Sessions
) -> None:
    member_id, first = await _member_with_26_dates(shop, sessions)
    async with console_client(app) as client:
        await sign_in(client, await make_key(Role.MARKETER))
        page = await client.get(f"/console/members/{member_id}")
    assert page.status_code == 200, page.text
    table = page.text.split('<table id="expiries"', 1)[1].split("</table>", 1)[0]
    assert table.count("<tr><td>") == 24 + 1  # 24 dates and the "more" row
    assert f'<tr><td>{first.isoformat()}</td><td class="num">5</td></tr>' in table
    assert 'and 2 more dates</td><td class="num">20</td>' in table
    assert '<dd id="points-to-expire">255</dd>' in page.text
