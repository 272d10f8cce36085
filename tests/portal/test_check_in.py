"""The daily check-in: a `checked_in` event through the intake (the built-in rule pays its points), once per
local day, the streak of consecutive days and its bonus every few days, paid once."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from core.settings import PortalSettings, get_settings
from models import LedgerTransaction, MemberEvent
from tests.support.helpers import ApiClient
from tests.support.messaging import Sessions
from tests.support.portal import available_points, csrf_of, portal_member, sign_in_by_link

EVERY = 3
BONUS = 25


@pytest.fixture
def portal_settings() -> PortalSettings:
    return PortalSettings(brand_name="Tea House", check_in_streak_days=EVERY, check_in_streak_bonus=BONUS)


def _award() -> int:
    return get_settings().points.awards["checked_in"]


async def _check_in(http: httpx.AsyncClient) -> httpx.Response:
    page = await http.get("/portal/check-in")
    assert page.status_code == 200
    return await http.post("/portal/check-in", data={"csrf_token": csrf_of(page.text)})


async def test_a_check_in_pays_once_a_day(http: httpx.AsyncClient, shop: ApiClient, sessions: Sessions) -> None:
    member = await portal_member(shop, timezone="Asia/Shanghai")
    await sign_in_by_link(http, member["id"])
    page = await http.get("/portal/check-in")
    assert "0-day streak" in page.text
    assert f"Check in every day for {_award()} points; every {EVERY} days in a row earn {BONUS} more." in page.text

    done = await _check_in(http)
    assert done.status_code == 303, done.text
    after = await http.get(done.headers["location"])
    assert f"Checked in: +{_award()} points." in after.text
    assert "1-day streak" in after.text
    assert "You have checked in today." in after.text
    assert await available_points(shop, member["id"]) == _award()

    csrf = csrf_of(after.text)
    twice = await http.post("/portal/check-in", data={"csrf_token": csrf})
    assert twice.status_code == 409
    assert "You have already checked in today. Come back tomorrow!" in twice.text
    assert await available_points(shop, member["id"]) == _award()
    assert (await http.post("/portal/check-in", data={"csrf_token": "forged"})).status_code == 403
    async with sessions() as session:
        events = await session.scalar(
            select(func.count()).where(
                MemberEvent.member_id == uuid.UUID(member["id"]), MemberEvent.type == "checked_in"
            )
        )
    assert events == 1


async def test_the_streak_counts_consecutive_local_days_and_pays_its_bonus_once(
    app: FastAPI, http: httpx.AsyncClient, shop: ApiClient, sessions: Sessions
) -> None:
    member = await portal_member(shop, timezone="Asia/Shanghai")
    await sign_in_by_link(http, member["id"])
    start = datetime.now(UTC)
    streaks = []
    for days_back in (5, 3, 2, 1, 0):  # day 4 missed: the streak starts again on day 3
        moment = start - timedelta(days=days_back)
        app.state.portal_clock = lambda moment=moment: moment
        done = await _check_in(http)
        assert done.status_code == 303, done.text
        page = await http.get(done.headers["location"])
        streaks.append(page.text.split('data-testid="streak">', 1)[1].split("<", 1)[0])
        if days_back == 1:  # the third day in a row
            assert f"Streak bonus: +{BONUS} points!" in page.text
        else:
            assert "Streak bonus" not in page.text
    assert streaks == ["1-day streak", "1-day streak", "2-day streak", "3-day streak", "4-day streak"]
    assert await available_points(shop, member["id"]) == 5 * _award() + BONUS
    async with sessions() as session:
        bonuses = await session.scalar(
            select(func.count()).where(
                LedgerTransaction.member_id == uuid.UUID(member["id"]),
                LedgerTransaction.idempotency_key.like("check-in-streak:%"),
            )
        )
    assert bonuses == 1
