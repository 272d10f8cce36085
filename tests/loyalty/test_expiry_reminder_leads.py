"""The expiry reminders' lead days, set by an admin on the console's checkout page: the setting is the value
until the first save; a save is audited once and the daily scan follows it at once; bad leads are refused
inline and change nothing; other roles cannot post the form."""

from __future__ import annotations

import html
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
import pytest_asyncio
from fastapi import FastAPI
from pydantic import ValidationError
from sqlalchemy import delete
from temporalio.testing import WorkflowEnvironment

from core.settings import get_settings
from models import PointsSettings
from services.loyalty import expiry_reminders
from services.platform.api_keys import Role
from tests.loyalty.test_expiry_reminders import at
from tests.support.calendar_events import beyond_the_other_tests, events_of, scan
from tests.support.console import Sessions, console_client, csrf, sign_in
from tests.support.helpers import KeyMaker, audit_rows
from tests.support.ledger import assert_ledger_ok, earn, new_member

FORM = "/console/checkout/expiry-reminders"


@pytest_asyncio.fixture(autouse=True)
async def leads_from_the_setting(sessions: Sessions) -> AsyncIterator[None]:
    """Each test starts, and leaves the shared database, with no saved leads (the setting's [30, 7] in force,
    which the other expiry tests rely on)."""

    async def clear() -> None:
        async with sessions() as session:
            await session.execute(delete(PointsSettings))
            await session.commit()

    await clear()
    yield
    await clear()


async def _current(sessions: Sessions) -> expiry_reminders.Reminders:
    async with sessions() as session:
        return await expiry_reminders.current(session)


def _leads(token: str, *days: str) -> dict[str, str]:
    return {"csrf_token": token} | {f"lead_{n}": value for n, value in enumerate(days, start=1)}


async def _saves(sessions: Sessions) -> list[dict[str, object]]:
    return [r for r in await audit_rows(sessions, "expiry_reminders") if r["action"] == "points_settings.update"]


async def test_the_setting_holds_until_an_admin_saves_and_the_scan_follows_the_save(
    app: FastAPI, make_key: KeyMaker, sessions: Sessions, temporal_dev: WorkflowEnvironment
) -> None:
    assert get_settings().points.expiry_reminder_days == [30, 7]
    assert await _current(sessions) == expiry_reminders.Reminders(days=[30, 7], source="setting")
    day = beyond_the_other_tests()
    member = await new_member(sessions)
    await earn(sessions, member, 90, expires_at=at(day, 9))
    audited_before = len(await _saves(sessions))
    async with console_client(app) as client:
        await sign_in(client, await make_key(Role.ADMIN))
        page = await client.get("/console/checkout")
        assert page.status_code == 200
        assert 'id="lead_1" name="lead_1" type="number" min="1" max="365" size="4" value="30"' in page.text
        assert "until saved here" in page.text
        assert page.text.count('id="reminder-form"') == 1
        assert "<title>Points at checkout" in page.text
        saved = await client.post(FORM, data=_leads(csrf(page.text), "14", "60", "", "3"))
        assert saved.status_code == 303, saved.text
        after = (await client.get("/console/checkout")).text
    assert "In force: 60, 14, 3 days before" in html.unescape(after)
    assert "until saved here" not in after
    now = await _current(sessions)
    assert (now.days, now.source) == ([60, 14, 3], "console")
    audited = await _saves(sessions)
    assert len(audited) == audited_before + 1
    assert audited[-1]["details"]["before"] == {"expiry_reminder_days": [30, 7]}
    assert audited[-1]["details"]["after"] == {"expiry_reminder_days": [60, 14, 3]}
    assert audited[-1]["details"]["via"] == "console"
    # The daily scan reads the saved leads: 30 days before is no longer one, 14 days before is.
    await scan(temporal_dev, sessions, day - timedelta(days=30))
    assert await events_of(sessions, member, "points_expiring") == []
    await scan(temporal_dev, sessions, day - timedelta(days=14))
    assert await events_of(sessions, member, "points_expiring") == [
        {"points": 90, "expires_on": day.isoformat(), "days_before": 14}
    ]
    await assert_ledger_ok(sessions)


async def test_bad_leads_are_shown_and_change_nothing(app: FastAPI, make_key: KeyMaker, sessions: Sessions) -> None:
    async with console_client(app) as client:
        await sign_in(client, await make_key(Role.ADMIN))
        token = csrf((await client.get("/console/checkout")).text)
        assert (await client.post(FORM, data=_leads(token, "21", "5"))).status_code == 303
        audited = len(await _saves(sessions))
        for bad, says in (
            (("0",), "1 to 365"),
            (("366", "7"), "1 to 365"),
            (("7", "30", "7"), "given once"),
            (("soon",), "valid integer"),
            (("-3",), "1 to 365"),
        ):
            refused = await client.post(FORM, data=_leads(token, *bad))
            assert refused.status_code == 422, bad
            problems = html.unescape(refused.text.split('id="lead-problems"', 1)[1].split("</div>", 1)[0])
            assert says in problems, (bad, problems)
            assert "Value error" not in problems, problems  # the validator's own words, as every console form says them
            # The form comes back with what was typed, to correct.
            assert f'name="lead_1" type="number" min="1" max="365" size="4" value="{bad[0]}"' in refused.text
    assert (await _current(sessions)).days == [21, 5]
    assert len(await _saves(sessions)) == audited


def test_at_most_four_leads() -> None:
    with pytest.raises(ValidationError, match="at most 4"):
        expiry_reminders.RemindersUpdate(days=[1, 2, 3, 4, 5])
    assert expiry_reminders.RemindersUpdate(days=[]).days == []  # no reminders at all


async def test_only_admins_post_the_form(app: FastAPI, make_key: KeyMaker, sessions: Sessions) -> None:
    async with console_client(app) as client:
        await sign_in(client, await make_key(Role.MARKETER))
        # The page's role check comes before the form is read: no token is needed to be refused.
        refused = await client.post(FORM, data=_leads("", "10"))
        assert refused.status_code == 403
    assert (await _current(sessions)).source == "setting"
