"""Campaign pages of the console: the form with its inline problems and live segment count, starting one and
following its progress to the end with the real worker (Temporal dev server), and the lifecycle buttons."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment

from core.settings import Settings
from models import Campaign
from services.platform.api_keys import Role
from tests.support.campaigns import add_journey, add_members, add_segment, running_workers, tag
from tests.support.console import console_client, csrf, sign_in
from tests.support.helpers import ApiClient, KeyMaker, audit_rows, without_via

Sessions = async_sessionmaker[AsyncSession]


async def _campaigns_named(sessions: Sessions, name: str) -> int:
    async with sessions() as session:
        return int((await session.execute(select(func.count()).where(Campaign.name == name))).scalar_one())


async def _progress(client: httpx.AsyncClient, location: str, *, timeout: float = 60.0) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        body: dict[str, Any] = (await client.get(f"{location}/progress")).json()
        if body["finished"] or asyncio.get_running_loop().time() > deadline:
            return body
        await asyncio.sleep(0.2)


async def test_the_form_shows_problems_inline_and_saves_nothing(
    app: FastAPI, make_key: KeyMaker, sessions: Sessions
) -> None:
    member_tag = tag()
    await add_members(sessions, 7, tags=[member_tag])
    segment_id = await add_segment(sessions, member_tag)
    async with console_client(app) as client:
        await sign_in(client, await make_key(Role.MARKETER))
        form = await client.get("/console/campaigns/new")
        assert form.status_code == 200
        assert f'<option value="{segment_id}">' in form.text
        counted = await client.get(f"/console/segments/{segment_id}/count")
        assert counted.json() == {"count": 7}
        assert (await client.get(f"/console/segments/{uuid.uuid4()}/count")).status_code == 404
        shown = await client.get("/console/campaigns/new", params={"segment_id": str(segment_id)})
        assert "7 members match now" in shown.text
        name = f"Spring {uuid.uuid4().hex[:6]}"
        bad = await client.post(
            "/console/campaigns",
            data={
                "csrf_token": csrf(form.text),
                "name": name,
                "segment_id": str(segment_id),
                "journey_kind": "welcome",
                "holdout_percent": "80",
            },
        )
        assert bad.status_code == 422
        assert '<span class="field-error" id="err-holdout_percent">' in bad.text
        assert f'value="{name}"' in bad.text  # what was typed stays
        unknown = await client.post(
            "/console/campaigns",
            data={
                "csrf_token": csrf(form.text),
                "name": name,
                "segment_id": str(segment_id),
                "journey_kind": "no_such_journey",
            },
        )
        assert unknown.status_code == 422
        assert "no journey &#39;no_such_journey&#39;" in unknown.text
        assert await _campaigns_named(sessions, name) == 0


async def test_start_from_the_console_and_follow_it_to_the_end(
    app: FastAPI, make_key: KeyMaker, sessions: Sessions, settings: Settings, temporal_dev: WorkflowEnvironment
) -> None:
    member_tag = tag()
    await add_members(sessions, 30, tags=[member_tag])
    segment_id = await add_segment(sessions, member_tag)
    kind = await add_journey(sessions)
    async with running_workers(temporal_dev.client, sessions, settings), console_client(app) as client:
        await sign_in(client, await make_key(Role.MARKETER))
        token = csrf((await client.get("/console/campaigns/new")).text)
        created = await client.post(
            "/console/campaigns",
            data={
                "csrf_token": token,
                "name": "Thirty members",
                "segment_id": str(segment_id),
                "journey_kind": kind,
                "holdout_percent": "10",
                "attribution_days": "7",
                "start": "1",
            },
        )
        assert created.status_code == 303, created.text
        location = created.headers["location"].split("?")[0]
        progress = await _progress(client, location)
        assert progress["status"] == "completed", progress
        assert progress["percent"] == 100
        assert progress["total"] == 30
        assert progress["enrolled"] + progress["held_out"] == 30
        page = await client.get(location)
        assert page.status_code == 200
        assert 'aria-valuenow="100"' in page.text
        assert '<table id="results">' in page.text
        assert f"/workflows/campaign-{location.rsplit('/', 1)[1]}" in page.text
        listing = await client.get("/console/campaigns")
        assert f'href="{location}"' in listing.text
        refused = await client.post(f"{location}/pause", data={"csrf_token": token})
        assert refused.status_code == 409
        assert "cannot pause a campaign that is completed" in refused.text


async def test_a_draft_is_cancelled_and_other_roles_stay_out(
    app: FastAPI, make_key: KeyMaker, sessions: Sessions
) -> None:
    member_tag = tag()
    await add_members(sessions, 2, tags=[member_tag])
    segment_id = await add_segment(sessions, member_tag)
    async with console_client(app) as client:
        await sign_in(client, await make_key(Role.MARKETER))
        token = csrf((await client.get("/console/campaigns/new")).text)
        created = await client.post(
            "/console/campaigns",
            data={"csrf_token": token, "name": "Draft", "segment_id": str(segment_id), "journey_kind": "welcome"},
        )
        assert created.status_code == 303
        location = created.headers["location"].split("?")[0]
        draft = await client.get(location)
        assert '<span class="status draft" id="campaign-status">draft</span>' in draft.text
        assert (await client.post(f"{location}/cancel", data={"csrf_token": "x"})).status_code == 403
        cancelled = await client.post(f"{location}/cancel", data={"csrf_token": token})
        assert cancelled.status_code == 303
        assert "cancelled" in (await client.get(location)).text
    async with console_client(app) as client:
        await sign_in(client, await make_key(Role.APPROVER))
        assert (await client.get(location)).status_code == 403
        assert (await client.get("/console/campaigns")).status_code == 403


async def test_the_api_and_the_console_write_the_same_audit_rows_for_a_campaign(
    app: FastAPI, http: httpx.AsyncClient, make_key: KeyMaker, sessions: Sessions
) -> None:
    member_tag = tag()
    await add_members(sessions, 2, tags=[member_tag])
    segment_id = await add_segment(sessions, member_tag)
    secret = await make_key(Role.MARKETER)
    spec = {"name": f"Same {member_tag}", "segment_id": str(segment_id), "journey_kind": "welcome"}
    api = ApiClient(http, secret)
    created = await api.post("/api/v1/campaigns", json=spec)
    assert created.status_code == 201, created.text
    through_api = created.json()["id"]
    assert (
        await api.post(f"/api/v1/campaigns/{through_api}/cancel", json={"cancel_journeys": True})
    ).status_code == 200
    async with console_client(app) as client:
        await sign_in(client, secret)
        token = csrf((await client.get("/console/campaigns/new")).text)
        posted = await client.post("/console/campaigns", data={"csrf_token": token, **spec})
        assert posted.status_code == 303
        through_console = posted.headers["location"].split("?")[0].rsplit("/", 1)[1]
        cancelled = await client.post(
            f"/console/campaigns/{through_console}/cancel", data={"csrf_token": token, "cancel_journeys": "1"}
        )
        assert cancelled.status_code == 303

    api_rows, console_rows = await audit_rows(sessions, through_api), await audit_rows(sessions, through_console)
    assert [row["action"] for row in api_rows] == ["campaign.create", "campaign.cancel"]
    assert [row["details"] for row in api_rows] == [
        {"status": "draft", "start": False, "via": "api"},
        {"status": "cancelled", "cancel_journeys": True, "via": "api"},
    ]
    assert api_rows[0]["actor_key_id"] is not None
    assert without_via(console_rows) == without_via(api_rows)
    assert {row["details"]["via"] for row in console_rows} == {"console"}
