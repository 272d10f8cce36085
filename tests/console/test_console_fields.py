"""The console's member-field page (admin): add each type, refuse bad drafts inline and write nothing, edit,
refuse a type change while members hold values, delete (refused, then forced), roles, CSRF and the audit rows."""

from __future__ import annotations

import html
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy import delete, func, select

from models import AuditEntry, Member, MemberField
from services.members import fields
from services.platform.api_keys import Role
from tests.support.console import Sessions, console_client, csrf, sign_in
from tests.support.helpers import ApiClient, KeyMaker, audit_rows, member_body

PREFIX = "cf_"


@pytest_asyncio.fixture(autouse=True)
async def _no_fields_left_behind(sessions: Sessions) -> AsyncIterator[None]:
    """Definitions are global (a required one would break other tests' sign-ups): remove this module's."""
    yield
    async with sessions() as session:
        await session.execute(delete(MemberField).where(MemberField.key.startswith(PREFIX)))
        await session.commit()


def _key() -> str:
    return f"{PREFIX}{uuid.uuid4().hex[:8]}"


def _form(token: str, key: str, type_: str, **overrides: str) -> dict[str, str]:
    form = {
        "csrf_token": token,
        "key": key,
        "label_en": f"Label {key}",
        "label_zh_cn": "标签",
        "type": type_,
        "options": "",
    }
    form.update(overrides)
    return {name: value for name, value in form.items() if value is not None}


async def _admin_page(client: httpx.AsyncClient, make_key: KeyMaker) -> str:
    await sign_in(client, await make_key(Role.ADMIN))
    page = await client.get("/console/fields")
    assert page.status_code == 200
    return csrf(page.text)


async def _stored(sessions: Sessions) -> dict[str, MemberField]:
    async with sessions() as session:
        return {f.key: f for f in await fields.list_fields(session) if f.key.startswith(PREFIX)}


async def _field_audit_count(sessions: Sessions) -> int:
    async with sessions() as session:
        stmt = select(func.count()).select_from(AuditEntry).where(AuditEntry.target_type == "member_field")
        return int((await session.execute(stmt)).scalar_one())


def _error_at(page: str, name: str) -> str:
    """The inline message next to the form input `name`."""
    marker = f'id="err-{name}">'
    assert marker in page, f"no problem shown at {name}"
    return html.unescape(page.split(marker, 1)[1].split("</", 1)[0])


async def test_an_admin_adds_each_type_and_sees_it_listed(app: FastAPI, make_key: KeyMaker, sessions: Sessions) -> None:
    keys: dict[str, str] = {}
    async with console_client(app) as client:
        token = await _admin_page(client, make_key)
        for type_ in ("text", "number", "date", "boolean", "single_select", "multi_select"):
            key = keys[type_] = _key()
            options = "green\n\n blue \nred" if "select" in type_ else ""
            extra = {"required": "1"} if type_ == "boolean" else {}
            if type_ == "text":
                extra["personal_data"] = "1"
            added = await client.post("/console/fields", data=_form(token, key, type_, options=options, **extra))
            assert added.status_code == 303, added.text
            assert added.headers["location"].startswith("/console/fields?flash=")
        # The required boolean would break other sign-ups: make it optional again before anything else runs.
        listing = await client.get("/console/fields")
        edit = _form(token, keys["boolean"], "boolean")
        edit.pop("key")
        assert (await client.post(f"/console/fields/{keys['boolean']}", data=edit)).status_code == 303
    stored = await _stored(sessions)
    assert {stored[k].type for k in keys.values()} == set(keys)
    assert stored[keys["multi_select"]].options == ["green", "blue", "red"]
    assert stored[keys["text"]].personal_data is True
    assert stored[keys["text"]].label_zh_cn == "标签"
    assert stored[keys["boolean"]].required is False
    text = listing.text
    for type_, key in keys.items():
        assert f'href="/console/fields/{key}"' in text
        assert type_.replace("_", " ") in text
    assert '<span class="tag">blue</span>' in text
    assert "标签" in text


async def test_bad_drafts_show_inline_problems_and_write_nothing(
    app: FastAPI, make_key: KeyMaker, sessions: Sessions
) -> None:
    taken = _key()
    async with console_client(app) as client:
        token = await _admin_page(client, make_key)
        assert (await client.post("/console/fields", data=_form(token, taken, "text"))).status_code == 303
        before = await _field_audit_count(sessions)
        fresh = _key()
        for form, name, says, status in (
            (_form(token, "Bad Key!", "text"), "key", "should match pattern", 422),
            (_form(token, fresh, "text", label_en=""), "label_en", "at least 1 character", 422),
            (_form(token, fresh, "text", label_zh_cn="   "), "label_zh_cn", "at least 1 character", 422),
            (_form(token, fresh, "text", options="a\nb"), "options", "only single_select and multi_select", 422),
            (_form(token, fresh, "single_select"), "options", "needs at least one option", 422),
            (_form(token, fresh, "multi_select", options="a\na"), "options", "options must be distinct", 422),
            (_form(token, fresh, "colour"), "type", "Input should be", 422),
            (_form(token, taken, "number"), "key", f"a member field with key {taken!r} already exists", 409),
        ):
            refused = await client.post("/console/fields", data=form)
            assert refused.status_code == status, (name, refused.text)
            assert says in _error_at(refused.text, name)
            assert 'aria-invalid="true"' in refused.text
            # The draft stays in the form.
            assert f'value="{html.escape(form["key"])}"' in refused.text
        assert (await _stored(sessions)).keys() == {taken}
        assert await _field_audit_count(sessions) == before


async def test_type_change_is_refused_while_members_hold_values_and_delete_needs_force(
    app: FastAPI, make_key: KeyMaker, sessions: Sessions, shop: ApiClient
) -> None:
    key = _key()
    async with console_client(app) as client:
        token = await _admin_page(client, make_key)
        form = _form(token, key, "single_select", options="gold\nsilver")
        assert (await client.post("/console/fields", data=form)).status_code == 303
        member = await shop.post("/api/v1/members", json=member_body(attributes={key: "gold"}))
        assert member.status_code == 201, member.text
        page = await client.get(f"/console/fields/{key}")
        assert page.status_code == 200
        assert "1 member(s) hold a value" in page.text
        edit = {name: value for name, value in form.items() if name != "key"}

        to_text = await client.post(f"/console/fields/{key}", data={**edit, "type": "text", "options": ""})
        assert to_text.status_code == 409
        assert "type cannot change while members hold values" in _error_at(to_text.text, "type")
        dropped = await client.post(f"/console/fields/{key}", data={**edit, "options": "silver"})
        assert dropped.status_code == 409
        assert "hold the option 'gold'" in _error_at(dropped.text, "options")
        renamed = await client.post(
            f"/console/fields/{key}", data={**edit, "label_en": "Tier colour", "options": "gold\nsilver\nbronze"}
        )
        assert renamed.status_code == 303
        stored = (await _stored(sessions))[key]
        assert (stored.type, stored.label_en, stored.options) == (
            "single_select",
            "Tier colour",
            ["gold", "silver", "bronze"],
        )

        plain = await client.post(f"/console/fields/{key}/delete", data={"csrf_token": token})
        assert plain.status_code == 409
        assert "1 member(s) hold a value" in _error_at(plain.text, "delete")
        assert "Delete and remove 1 values" in plain.text
        assert key in await _stored(sessions)
        forced = await client.post(f"/console/fields/{key}/delete", data={"csrf_token": token, "force": "1"})
        assert forced.status_code == 303
        assert "1 member value(s) removed" in (await client.get(forced.headers["location"])).text
    assert key not in await _stored(sessions)
    async with sessions() as session:
        held = await session.get(Member, uuid.UUID(member.json()["id"]))
        assert held is not None
        assert key not in held.attributes

    # Every write went through the service with the console user's actor.
    rows = await audit_rows(sessions, str(stored.id))
    assert [row["action"] for row in rows] == ["member_field.create", "member_field.update", "member_field.delete"]
    assert {row["details"]["via"] for row in rows} == {"console"}
    assert {row["actor_key_id"] is not None for row in rows} == {True}
    assert rows[1]["details"]["changed"] == {
        "labels": {"en": "Tier colour", "zh-CN": "标签"},
        "options": ["gold", "silver", "bronze"],
    }
    assert rows[2]["details"] == {"key": key, "force": True, "values_removed": 1, "via": "console"}


async def test_a_type_change_without_values_and_an_unused_delete(
    app: FastAPI, make_key: KeyMaker, sessions: Sessions
) -> None:
    key = _key()
    async with console_client(app) as client:
        token = await _admin_page(client, make_key)
        assert (await client.post("/console/fields", data=_form(token, key, "text"))).status_code == 303
        edit = _form(token, key, "multi_select", options="a\nb", personal_data="1")
        edit.pop("key")
        assert (await client.post(f"/console/fields/{key}", data=edit)).status_code == 303
        stored = (await _stored(sessions))[key]
        assert (stored.type, stored.options, stored.personal_data) == ("multi_select", ["a", "b"], True)
        no_options = await client.post(f"/console/fields/{key}", data={**edit, "options": ""})
        assert no_options.status_code == 422
        assert "needs at least one option" in _error_at(no_options.text, "options")
        assert (await client.post(f"/console/fields/{key}/delete", data={"csrf_token": token})).status_code == 303
        assert (await client.get(f"/console/fields/{key}")).status_code == 404
        assert (await client.post(f"/console/fields/{key}", data=edit)).status_code == 404
        assert (await client.post(f"/console/fields/{key}/delete", data={"csrf_token": token})).status_code == 404
    assert key not in await _stored(sessions)


async def test_other_roles_and_forged_tokens_change_nothing(
    app: FastAPI, make_key: KeyMaker, sessions: Sessions
) -> None:
    key = _key()
    async with console_client(app) as admin:
        token = await _admin_page(admin, make_key)
        assert (await admin.post("/console/fields", data=_form(token, key, "text"))).status_code == 303
        nav = (await admin.get("/console")).text.split("<main>")[0]
        assert 'href="/console/fields"' in nav
        before = await _field_audit_count(sessions)
        forged: list[tuple[str, dict[str, Any]]] = [
            ("/console/fields", _form("forged", _key(), "text")),
            (f"/console/fields/{key}", {"csrf_token": "forged", "label_en": "X", "label_zh_cn": "X", "type": "number"}),
            (f"/console/fields/{key}/delete", {"csrf_token": "forged", "force": "1"}),
            (f"/console/fields/{key}/delete", {"force": "1"}),
        ]
        for path, data in forged:
            response = await admin.post(path, data=data)
            assert response.status_code == 403, path
            assert "security token" in response.text
    for role in (Role.MARKETER, Role.OPS, Role.APPROVER):
        async with console_client(app) as client:
            await sign_in(client, await make_key(role))
            assert (await client.get("/console/fields")).status_code == 403
            assert (await client.get(f"/console/fields/{key}")).status_code == 403
            home = await client.get("/console" if role is not Role.APPROVER else "/console/inbox")
            assert 'href="/console/fields"' not in home.text
            token = csrf(home.text)
            for path, data in forged:
                response = await client.post(path, data={**data, "csrf_token": token})
                assert response.status_code == 403, (role, path)
    stored = (await _stored(sessions))[key]
    assert (stored.type, stored.label_en) == ("text", f"Label {key}")
    assert set(await _stored(sessions)) == {key}
    assert await _field_audit_count(sessions) == before
