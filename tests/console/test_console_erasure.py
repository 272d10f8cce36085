"""Erasing a member from the console: admins only, a confirmation page with a reason, the session's CSRF token."""

from __future__ import annotations

import uuid

from fastapi import FastAPI
from sqlalchemy import select

from models import Member
from services.platform.api_keys import Role
from tests.support.console import Sessions, console_client, csrf, sign_in
from tests.support.helpers import ApiClient, KeyMaker, create_member


async def test_only_an_admin_erases_a_member_after_confirming_with_a_reason(
    app: FastAPI, make_key: KeyMaker, shop: ApiClient, sessions: Sessions
) -> None:
    name = f"Sun Console {uuid.uuid4().hex[:8]}"
    member = await create_member(shop, name=name)
    page = f"/console/members/{member['id']}"
    async with console_client(app) as client:
        await sign_in(client, await make_key(Role.MARKETER))
        assert 'id="erase-member"' not in (await client.get(page)).text
        assert (await client.get(f"{page}/erase")).status_code == 403
    async with console_client(app) as client:
        await sign_in(client, await make_key(Role.ADMIN))
        assert 'id="erase-member"' in (await client.get(page)).text
        form = await client.get(f"{page}/erase")
        assert form.status_code == 200
        token = csrf(form.text)
        reason = "erasure request 88"
        assert (await client.post(f"{page}/erase", data={"reason": reason, "confirm": "1"})).status_code == 403
        unconfirmed = await client.post(f"{page}/erase", data={"csrf_token": token, "reason": reason})
        assert unconfirmed.status_code == 422
        quoting = await client.post(f"{page}/erase", data={"csrf_token": token, "reason": name, "confirm": "1"})
        assert quoting.status_code == 422
        assert "must not repeat" in quoting.text
        short = await client.post(f"{page}/erase", data={"csrf_token": token, "reason": "x", "confirm": "1"})
        assert short.status_code == 422
        async with sessions() as session:
            kept = (await session.execute(select(Member).where(Member.id == uuid.UUID(member["id"])))).scalar_one()
            assert (kept.name, kept.erased_at) == (name, None)
        done = await client.post(f"{page}/erase", data={"csrf_token": token, "reason": reason, "confirm": "1"})
        assert done.status_code == 303
        shown = await client.get(done.headers["location"])
        assert 'id="erased"' in shown.text
        assert name not in shown.text
        assert 'id="erase-member"' not in shown.text
        assert (await client.get("/console/members/not-a-uuid/erase")).status_code == 404
