"""The console's points-at-checkout page (admin): the rate as a plain form with its worked example, a saved
change the shop's quote follows at once and the audit log records, bad values refused inline writing nothing,
and the page closed to other roles."""

from __future__ import annotations

import html
import uuid

from fastapi import FastAPI

from api.schemas.members import Member360Out
from core.settings import Settings
from services.analytics import member360
from services.loyalty import checkout_rate
from services.platform.api_keys import Role
from services.privacy.masking import View
from tests.support.checkouts import checkout_body, funded_member, programme_rate
from tests.support.console import Sessions, console_client, csrf, sign_in
from tests.support.helpers import ApiClient, KeyMaker, audit_rows


def _form(token: str, **overrides: str | None) -> dict[str, str]:
    form: dict[str, str | None] = {
        "csrf_token": token,
        "enabled": "on",
        "currency": "CNY",
        "points_per_unit": "10",
        "unit_value": "0.10",
        "max_percent": "30",
        "min_points": "200",
        "hold_minutes": "20",
    }
    return {k: v for k, v in (form | overrides).items() if v is not None}


async def _rate(sessions: Sessions) -> dict[str, object]:
    async with sessions() as session:
        return checkout_rate.snapshot(await checkout_rate.current(session))


async def test_an_admin_changes_the_rate_with_the_form_and_the_quote_follows(
    app: FastAPI, make_key: KeyMaker, sessions: Sessions, shop: ApiClient, admin: ApiClient
) -> None:
    async with programme_rate(sessions), console_client(app) as client:
        await sign_in(client, await make_key(Role.ADMIN))
        page = await client.get("/console/checkout")
        assert page.status_code == 200
        # The defaults' example: half of 200.00 CNY at 100 points = 1.00 CNY.
        assert 'id="example-cap">10,000<' in page.text
        saved = await client.post("/console/checkout", data=_form(csrf(page.text)))
        assert saved.status_code == 303, saved.text
        assert await _rate(sessions) == {
            "enabled": True,
            "currency": "CNY",
            "points_per_unit": 10,
            "unit_value": "0.10",
            "max_percent": 30,
            "min_points": 200,
            "hold_minutes": 20,
        }
        after = await client.get("/console/checkout")
        assert 'id="example-cap">6,000<' in after.text  # 30% of 200.00 = 60.00 CNY = 600 units of 10 points
        member_id = await funded_member(shop, admin, 1_234)
        quote = await shop.post(
            "/api/v1/checkouts/quote", json={"member_id": member_id, "order_amount": "100.00", "currency": "CNY"}
        )
        # Cap 30.00 CNY = 3,000 points; available in whole units of 10: 1,230, worth 12.30 CNY.
        assert (quote.json()["cap_points"], quote.json()["max_points"], quote.json()["max_value"]) == (
            3_000,
            1_230,
            "12.30",
        )
        rows = [r for r in await audit_rows(sessions, "programme") if r["action"] == "checkout_settings.update"]
        assert rows[-1]["details"]["after"]["points_per_unit"] == 10
        assert rows[-1]["details"]["via"] == "console"


async def test_bad_values_are_shown_and_change_nothing(app: FastAPI, make_key: KeyMaker, sessions: Sessions) -> None:
    async with programme_rate(sessions), console_client(app) as client:
        before = await _rate(sessions)
        await sign_in(client, await make_key(Role.ADMIN))
        token = csrf((await client.get("/console/checkout")).text)
        for bad in ({"max_percent": "150"}, {"unit_value": "0"}, {"currency": "yuan"}, {"points_per_unit": "ten"}):
            refused = await client.post("/console/checkout", data=_form(token, **bad))
            assert refused.status_code == 422, bad
            assert 'id="problems"' in refused.text
            field = next(iter(bad))
            assert field in html.unescape(refused.text.split('id="problems"', 1)[1].split("</div>", 1)[0])
        assert await _rate(sessions) == before
        # Without the checkbox the programme is off; the page says so.
        off = await client.post("/console/checkout", data=_form(token, enabled=None))
        assert off.status_code == 303
        assert (await _rate(sessions))["enabled"] is False
        assert "<strong>Off</strong>" in (await client.get("/console/checkout")).text


async def test_only_admins_open_the_page(app: FastAPI, make_key: KeyMaker) -> None:
    async with console_client(app) as client:
        await sign_in(client, await make_key(Role.MARKETER))
        assert (await client.get("/console/checkout")).status_code == 403


async def test_the_360_view_shows_open_checkouts_in_the_api_and_the_console(
    app: FastAPI, make_key: KeyMaker, sessions: Sessions, shop: ApiClient, admin: ApiClient, settings: Settings
) -> None:
    async with programme_rate(sessions):
        member_id = await funded_member(shop, admin, 3_000)
        external = f"co-{uuid.uuid4().hex}"
        held = await shop.post(
            "/api/v1/checkouts", json=checkout_body(member_id, external, amount="50.00", points=2_000)
        )
        assert held.status_code == 201, held.text
        document = (await shop.get(f"/api/v1/members/{member_id}")).json()
        [shown] = document["open_checkouts"]
        assert (shown["id"], shown["points"], shown["value"], shown["status"]) == (
            held.json()["id"],
            2_000,
            "20.00",
            "held",
        )
        assert shown["expires_at"] == held.json()["expires_at"]
        # The one-statement JSON is the ORM view's, value for value.
        async with sessions() as session:
            view = await member360.view(session, uuid.UUID(member_id))
        orm = Member360Out.of_view(
            view,
            temporal_ui=settings.temporal.ui_url,
            namespace=settings.temporal.namespace,
            view=View(Role.INTEGRATION),
        ).model_dump(mode="json")
        assert orm["open_checkouts"] == document["open_checkouts"]
        async with console_client(app) as client:
            await sign_in(client, await make_key(Role.ADMIN))
            page = (await client.get(f"/console/members/{member_id}")).text
            assert f'data-checkout="{held.json()["id"]}"' in page
            assert f"workflows/checkout-{held.json()['id']}" in page
            released = await shop.post(f"/api/v1/checkouts/{held.json()['id']}/release")
            assert released.status_code == 200
            assert 'id="open-checkouts"' not in (await client.get(f"/console/members/{member_id}")).text
        assert (await shop.get(f"/api/v1/members/{member_id}")).json()["open_checkouts"] == []
