"""Members' tags and custom field values through POST and PATCH /members: validated against the definitions on
every write (422 naming `body.attributes.<key>`, nothing written), stored canonically, shown in the 360 views."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models import Member
from services.platform.api_keys import Role
from tests.support.console import console_client, sign_in
from tests.support.fields import define_field, field_key
from tests.support.helpers import ApiClient, KeyMaker, assert_error, create_member, member_body

# Per type: (a value as a client sends it, the value as stored and returned).
VALID: list[tuple[str, Any, Any]] = [
    ("text", "Jing'an 静安", "Jing'an 静安"),
    ("number", 42, 42),
    ("number", 19.99, 19.99),
    ("number", "1234567.89", 1234567.89),
    ("number", "-0.5", -0.5),
    ("number", "1200.00", 1200),
    ("date", "2024-02-29", "2024-02-29"),
    ("boolean", False, False),
    ("single_select", "green", "green"),
    ("multi_select", ["blue", "red", "blue"], ["red", "blue"]),
]

INVALID: list[tuple[str, Any]] = [
    ("text", 12),
    ("text", "   "),
    ("text", "x" * 1001),
    ("text", ["a"]),
    ("number", "twelve"),
    ("number", True),
    ("number", "NaN"),
    ("number", "Infinity"),
    ("number", "1234567890123456"),
    ("number", {"amount": 1}),
    ("date", "2023-02-29"),
    ("date", "29/02/2024"),
    ("date", "2024-02-29T10:00:00"),
    ("date", 20240229),
    ("boolean", "true"),
    ("boolean", 1),
    ("single_select", "purple"),
    ("single_select", ["red"]),
    ("multi_select", "red"),
    ("multi_select", ["red", "purple"]),
    ("multi_select", []),
    ("multi_select", [1]),
]


async def _member_row(sessions: async_sessionmaker[AsyncSession], member_id: str) -> tuple[list[str], dict[str, Any]]:
    async with sessions() as session:
        member = (await session.execute(select(Member).where(Member.id == member_id))).scalar_one()
        return list(member.tags), dict(member.attributes)


async def _count(sessions: async_sessionmaker[AsyncSession], external_id: str) -> int:
    async with sessions() as session:
        stmt = select(func.count()).select_from(Member).where(Member.external_id == external_id)
        return int((await session.execute(stmt)).scalar_one())


@pytest.mark.parametrize(("field_type", "sent", "stored"), VALID, ids=[f"{c[0]}-{c[1]!r}"[:40] for c in VALID])
async def test_valid_values_are_stored_canonically_through_post_and_patch(
    admin: ApiClient,
    shop: ApiClient,
    sessions: async_sessionmaker[AsyncSession],
    field_type: str,
    sent: Any,
    stored: Any,
) -> None:
    # Not personal, so every role's answer shows the stored value (personal ones: tests/privacy/test_masking.py).
    field = await define_field(admin, field_type, personal_data=False)
    created = await create_member(shop, attributes={field["key"]: sent})
    assert created["attributes"] == {field["key"]: stored}
    assert (await _member_row(sessions, created["id"]))[1] == {field["key"]: stored}

    plain = await create_member(shop)
    patched = await shop.patch(f"/api/v1/members/{plain['id']}", json={"attributes": {field["key"]: sent}})
    assert patched.status_code == 200, patched.text
    assert patched.json()["attributes"] == {field["key"]: stored}
    assert (await shop.get(f"/api/v1/members/{plain['id']}")).json()["attributes"] == {field["key"]: stored}


async def test_money_like_numbers_stay_exact_in_the_database(
    admin: ApiClient, shop: ApiClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    field = await define_field(admin, "number")
    member = await create_member(shop, attributes={field["key"]: "0.1"})
    await shop.patch(f"/api/v1/members/{member['id']}", json={"attributes": {field["key"]: "123456789012.35"}})
    async with sessions() as session:
        text = (
            await session.execute(select(Member.attributes[field["key"]].astext).where(Member.id == member["id"]))
        ).scalar_one()
    assert text == "123456789012.35"


@pytest.mark.parametrize(("field_type", "bad"), INVALID, ids=[f"{c[0]}-{c[1]!r}"[:40] for c in INVALID])
async def test_invalid_values_are_422_naming_the_field_and_write_nothing(
    admin: ApiClient, shop: ApiClient, sessions: async_sessionmaker[AsyncSession], field_type: str, bad: Any
) -> None:
    field = await define_field(admin, field_type)
    name = f"body.attributes.{field['key']}"
    body = member_body(attributes={field["key"]: bad})
    error = assert_error(await shop.post("/api/v1/members", json=body), 422, "validation_error")
    assert [d["field"] for d in error["details"]] == [name], error
    assert name in error["message"]
    assert await _count(sessions, body["external_id"]) == 0

    member = await create_member(shop, name="Before", tags=["vip"])
    before = await _member_row(sessions, member["id"])
    patch = {"name": "After", "tags": ["other"], "attributes": {field["key"]: bad}}
    error = assert_error(await shop.patch(f"/api/v1/members/{member['id']}", json=patch), 422, "validation_error")
    assert [d["field"] for d in error["details"]] == [name], error
    assert await _member_row(sessions, member["id"]) == before
    unmasked = await admin.get(f"/api/v1/members/{member['id']}", params={"unmasked": "true"})
    assert unmasked.json()["name"] == "Before"


async def test_unknown_fields_are_422_and_every_problem_is_named_at_once(
    admin: ApiClient, shop: ApiClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    number = await define_field(admin, "number")
    unknown = field_key("nope")
    body = member_body(attributes={unknown: "x", number["key"]: "many"})
    error = assert_error(await shop.post("/api/v1/members", json=body), 422, "validation_error")
    assert {d["field"] for d in error["details"]} == {f"body.attributes.{unknown}", f"body.attributes.{number['key']}"}
    assert await _count(sessions, body["external_id"]) == 0


async def test_required_fields_must_be_given_on_create_and_cannot_be_removed(
    admin: ApiClient, shop: ApiClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    early = await create_member(shop)  # joined before the field became required
    field = await define_field(admin, "single_select", required=True)
    optional = await define_field(admin, "text", personal_data=False)
    name = f"body.attributes.{field['key']}"
    for attributes in ({}, {field["key"]: None}, {optional["key"]: "only this"}):
        body = member_body(attributes=attributes)
        error = assert_error(await shop.post("/api/v1/members", json=body), 422, "validation_error")
        assert name in {d["field"] for d in error["details"]}, error
        assert await _count(sessions, body["external_id"]) == 0

    member = await create_member(shop, attributes={field["key"]: "red", optional["key"]: "note"})
    removed = await shop.patch(f"/api/v1/members/{member['id']}", json={"attributes": {field["key"]: None}})
    assert [d["field"] for d in assert_error(removed, 422, "validation_error")["details"]] == [name]
    changed = await shop.patch(f"/api/v1/members/{member['id']}", json={"attributes": {field["key"]: "blue"}})
    assert changed.json()["attributes"] == {field["key"]: "blue", optional["key"]: "note"}
    # An optional value is removed with null; the fields a PATCH does not name are kept.
    cleared = await shop.patch(f"/api/v1/members/{member['id']}", json={"attributes": {optional["key"]: None}})
    assert cleared.json()["attributes"] == {field["key"]: "blue"}
    # A member who joined before the field was required can still be updated without it.
    renamed = await shop.patch(f"/api/v1/members/{early['id']}", json={"name": "Still Fine"})
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["attributes"] == {}


async def test_tags_are_set_on_create_and_replaced_by_patch(admin: ApiClient, shop: ApiClient) -> None:
    member = await create_member(shop, tags=["vip", "newsletter", "vip"])
    assert member["tags"] == ["vip", "newsletter"]
    replaced = await shop.patch(f"/api/v1/members/{member['id']}", json={"tags": ["pre_churn"]})
    assert replaced.json()["tags"] == ["pre_churn"]
    kept = await shop.patch(f"/api/v1/members/{member['id']}", json={"name": "No Tag Change", "tags": None})
    assert kept.json()["tags"] == ["pre_churn"]
    emptied = await shop.patch(f"/api/v1/members/{member['id']}", json={"tags": []})
    assert emptied.json()["tags"] == []
    view = (await admin.get(f"/api/v1/members/{member['id']}")).json()
    assert (view["tags"], view["attributes"]) == ([], {})


@pytest.mark.parametrize(
    ("tags", "field"),
    [
        (["VIP"], "body.tags.0"),
        (["ok", "has space"], "body.tags.1"),
        (["9lives"], "body.tags.0"),
        (["x" * 65], "body.tags.0"),
        ([7], "body.tags.0"),
        ("vip", "body.tags"),
        ([f"t{i}" for i in range(51)], "body.tags"),
    ],
    ids=["capitals", "space", "leading digit", "too long", "not a string", "not a list", "too many"],
)
async def test_bad_tags_are_422_naming_the_tag_and_write_nothing(
    shop: ApiClient, sessions: async_sessionmaker[AsyncSession], tags: Any, field: str
) -> None:
    body = member_body(tags=tags)
    error = assert_error(await shop.post("/api/v1/members", json=body), 422, "validation_error")
    assert field in {d["field"] for d in error["details"]}, error
    assert await _count(sessions, body["external_id"]) == 0
    member = await create_member(shop, tags=["vip"])
    error = assert_error(await shop.patch(f"/api/v1/members/{member['id']}", json={"tags": tags}), 422)
    assert field in {d["field"] for d in error["details"]}, error
    assert (await _member_row(sessions, member["id"]))[0] == ["vip"]


async def test_a_marketer_may_set_values_but_the_360_view_shows_them_to_every_role(
    admin: ApiClient, marketer: ApiClient, approver: ApiClient, shop: ApiClient
) -> None:
    field = await define_field(admin, "date")
    member = await create_member(shop)
    patched = await marketer.patch(f"/api/v1/members/{member['id']}", json={"attributes": {field["key"]: "2025-06-18"}})
    assert patched.status_code == 200, patched.text
    view = await approver.get(f"/api/v1/members/{member['id']}")
    assert view.json()["attributes"] == {field["key"]: "2025-06-18"}
    # An approver may read but not write member records.
    assert_error(await approver.patch(f"/api/v1/members/{member['id']}", json={"attributes": {}}), 403)


async def test_the_console_360_view_shows_fields_with_their_labels_and_values(
    app: FastAPI, http: httpx.AsyncClient, admin: ApiClient, shop: ApiClient, make_key: KeyMaker
) -> None:
    store = await define_field(
        admin, "single_select", labels={"en": "Favourite <store>", "zh-CN": "常去门店"}, options=["Jing'an", "Xuhui"]
    )
    size = await define_field(admin, "number", labels={"en": "Shoe size", "zh-CN": "鞋码"}, personal_data=True)
    empty = await define_field(admin, "boolean", labels={"en": "Wants catalogue", "zh-CN": "需要目录"})
    member = await create_member(shop, attributes={store["key"]: "Jing'an", size["key"]: "38.5"})
    async with console_client(app) as client:
        await sign_in(client, await make_key(Role.MARKETER))
        page = await client.get(f"/console/members/{member['id']}")
    assert page.status_code == 200
    html = page.text
    assert 'id="custom-fields"' in html
    assert f'<dt data-key="{store["key"]}" title="常去门店" lang="en">Favourite &lt;store&gt;</dt>' in html
    assert f'<dd data-key="{store["key"]}">Jing&#39;an</dd>' in html
    assert (
        f'<dt data-key="{size["key"]}" title="鞋码" lang="en">Shoe size <small class="muted">personal data</small>'
        in html
    )
    # A personal field: a marketer's view masks it, and a masked number shows nothing (services.privacy.masking).
    assert f'<dd data-key="{size["key"]}">–</dd>' in html
    assert f'<dd data-key="{empty["key"]}">–</dd>' in html
