"""Custom member field definitions: create, read, update and delete; roles; audit; changes that members' values
would not survive (type, options, deletion) are refused or, for deletion with force, remove the values."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.errors import Conflict
from models import MemberField
from services import members
from services.members import MemberUpdate, fields
from services.members.fields import FieldType, FieldUpdate
from services.platform.audit import Actor
from tests.support.fields import define_field, field_body, field_key
from tests.support.helpers import ApiClient, assert_error, audit_rows, create_member


async def _field_count(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        return int((await session.execute(select(func.count()).select_from(MemberField))).scalar_one())


async def test_admin_defines_a_field_and_every_role_reads_it(
    admin: ApiClient, marketer: ApiClient, shop: ApiClient, approver: ApiClient
) -> None:
    body = field_body("single_select", required=False, personal_data=True)
    created = await admin.post("/api/v1/member-fields", json=body)
    assert created.status_code == 201, created.text
    field = created.json()
    assert uuid.UUID(field["id"])
    assert field["key"] == body["key"]
    assert field["labels"] == {"en": "Favourite store", "zh-CN": "常去门店"}
    assert (field["type"], field["options"], field["required"], field["personal_data"]) == (
        "single_select",
        ["red", "green", "blue"],
        False,
        True,
    )
    for client in (admin, marketer, shop, approver):
        one = await client.get(f"/api/v1/member-fields/{body['key']}")
        assert one.status_code == 200, one.text
        assert one.json() == field
        listed = await client.get("/api/v1/member-fields")
        assert listed.status_code == 200
        assert field in listed.json()


async def test_fields_are_listed_in_the_order_they_were_defined(admin: ApiClient) -> None:
    keys = [(await define_field(admin))["key"] for _ in range(3)]
    listed = [f["key"] for f in (await admin.get("/api/v1/member-fields")).json()]
    assert [k for k in listed if k in keys] == keys


async def test_a_marketer_cannot_define_change_or_delete_fields(
    admin: ApiClient, marketer: ApiClient, shop: ApiClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    field = await define_field(admin)
    before = await _field_count(sessions)
    for client in (marketer, shop):
        assert_error(await client.post("/api/v1/member-fields", json=field_body()), 403, "insufficient_role")
        assert_error(
            await client.patch(f"/api/v1/member-fields/{field['key']}", json={"required": True}),
            403,
            "insufficient_role",
        )
        assert_error(await client.delete(f"/api/v1/member-fields/{field['key']}"), 403, "insufficient_role")
    assert await _field_count(sessions) == before
    assert (await admin.get(f"/api/v1/member-fields/{field['key']}")).json() == field


BAD_FIELDS: list[tuple[str, dict[str, Any], str]] = [
    ("key with capitals", field_body(key="FavStore"), "body.key"),
    ("key with a dash", field_body(key="fav-store"), "body.key"),
    ("key too long", field_body(key="k" * 65), "body.key"),
    ("unknown type", field_body("colour"), "body.type"),
    ("missing zh-CN label", field_body(labels={"en": "Store"}), "body.labels.zh-CN"),
    ("blank en label", field_body(labels={"en": "  ", "zh-CN": "门店"}), "body.labels.en"),
    ("unknown setting", field_body(colour="red"), "body.colour"),
    ("select without options", field_body("single_select", options=[]), "body"),
    ("options on a text field", field_body("text", options=["a"]), "body"),
    ("repeated options", field_body("multi_select", options=["a", "a"]), "body"),
    ("required not a boolean", field_body(required="yes"), "body.required"),
]


@pytest.mark.parametrize(("case", "body", "field"), BAD_FIELDS, ids=[c[0] for c in BAD_FIELDS])
async def test_bad_definitions_are_422_naming_the_field_and_write_nothing(
    admin: ApiClient, sessions: async_sessionmaker[AsyncSession], case: str, body: dict[str, Any], field: str
) -> None:
    before = await _field_count(sessions)
    error = assert_error(await admin.post("/api/v1/member-fields", json=body), 422, "validation_error")
    assert field in {d["field"] for d in error["details"]}, (case, error)
    assert await _field_count(sessions) == before


async def test_a_key_is_defined_once(admin: ApiClient, sessions: async_sessionmaker[AsyncSession]) -> None:
    field = await define_field(admin)
    before = await _field_count(sessions)
    again = await admin.post("/api/v1/member-fields", json=field_body("number", key=field["key"]))
    error = assert_error(again, 409, "member_field_exists")
    assert error["details"] == {"key": field["key"]}
    assert await _field_count(sessions) == before


async def test_unknown_fields_are_404(admin: ApiClient) -> None:
    missing = field_key()
    assert_error(await admin.get(f"/api/v1/member-fields/{missing}"), 404, "member_field_not_found")
    assert_error(await admin.patch(f"/api/v1/member-fields/{missing}", json={"required": True}), 404)
    assert_error(await admin.delete(f"/api/v1/member-fields/{missing}"), 404, "member_field_not_found")


async def test_update_changes_labels_options_and_flags_and_is_audited(
    admin: ApiClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    field = await define_field(admin, "multi_select")
    changed = await admin.patch(
        f"/api/v1/member-fields/{field['key']}",
        json={
            "labels": {"en": "Colours", "zh-CN": "颜色"},
            "options": ["red", "green", "blue", "black"],
            "required": True,
            "personal_data": True,
        },
    )
    assert changed.status_code == 200, changed.text
    out = changed.json()
    assert out["labels"] == {"en": "Colours", "zh-CN": "颜色"}
    assert out["options"] == ["red", "green", "blue", "black"]
    assert (out["required"], out["personal_data"], out["type"]) == (True, True, "multi_select")
    assert (await admin.get(f"/api/v1/member-fields/{field['key']}")).json() == out
    deleted = await admin.delete(f"/api/v1/member-fields/{field['key']}")
    assert deleted.status_code == 200, deleted.text
    assert deleted.json() == {"key": field["key"], "values_removed": 0}

    rows = await audit_rows(sessions, field["id"])
    assert [r["action"] for r in rows] == ["member_field.create", "member_field.update", "member_field.delete"]
    assert all(r["target_type"] == "member_field" and r["actor"].startswith("test-admin") for r in rows)
    assert all(r["actor_key_id"] is not None and r["details"]["via"] == "api" for r in rows)
    assert rows[0]["details"]["type"] == "multi_select"
    assert rows[1]["details"]["changed"] == {
        "labels": {"en": "Colours", "zh-CN": "颜色"},
        "options": ["red", "green", "blue", "black"],
        "required": True,
        "personal_data": True,
    }
    assert rows[2]["details"] == {"key": field["key"], "force": False, "values_removed": 0, "via": "api"}


async def test_bad_updates_are_422_and_change_nothing(admin: ApiClient) -> None:
    field = await define_field(admin, "single_select")
    url = f"/api/v1/member-fields/{field['key']}"
    for body, name in [
        ({"options": []}, "body.options"),
        ({"options": ["a", "a"]}, "body"),
        ({"type": "text", "options": ["a"]}, "body.options"),
        ({"key": "renamed"}, "body.key"),
        ({"type": "colour"}, "body.type"),
    ]:
        error = assert_error(await admin.patch(url, json=body), 422, "validation_error")
        assert name in {d["field"] for d in error["details"]}, (body, error)
    assert (await admin.get(url)).json() == field


async def test_type_change_is_free_until_members_hold_values_then_409_with_the_count(
    admin: ApiClient, shop: ApiClient
) -> None:
    field = await define_field(admin, "text")
    url = f"/api/v1/member-fields/{field['key']}"
    became = await admin.patch(url, json={"type": "number"})
    assert became.status_code == 200, became.text
    assert became.json()["type"] == "number"
    for value in (3, 4):
        await create_member(shop, attributes={field["key"]: value})
    error = assert_error(await admin.patch(url, json={"type": "text"}), 409, "member_field_in_use")
    assert error["details"] == {"key": field["key"], "members": 2}
    assert "2 member(s)" in error["message"]
    assert (await admin.get(url)).json()["type"] == "number"
    # A select field becoming a text field needs no options; its options go with the type.
    select_field = await define_field(admin, "single_select")
    to_text = await admin.patch(f"/api/v1/member-fields/{select_field['key']}", json={"type": "text"})
    assert to_text.status_code == 200, to_text.text
    assert to_text.json()["options"] == []


async def test_removing_an_option_members_hold_is_409_and_others_can_go(admin: ApiClient, shop: ApiClient) -> None:
    single = await define_field(admin, "single_select")
    multi = await define_field(admin, "multi_select")
    await create_member(shop, attributes={single["key"]: "green", multi["key"]: ["blue", "red"]})
    await create_member(shop, attributes={single["key"]: "green"})
    error = assert_error(
        await admin.patch(f"/api/v1/member-fields/{single['key']}", json={"options": ["red", "blue"]}),
        409,
        "member_field_option_in_use",
    )
    assert error["details"] == {"key": single["key"], "option": "green", "members": 2}
    error = assert_error(
        await admin.patch(f"/api/v1/member-fields/{multi['key']}", json={"options": ["red", "green"]}),
        409,
        "member_field_option_in_use",
    )
    assert error["details"] == {"key": multi["key"], "option": "blue", "members": 1}
    assert (await admin.get(f"/api/v1/member-fields/{multi['key']}")).json()["options"] == ["red", "green", "blue"]
    # Options nobody holds may go, and new ones may come.
    kept = await admin.patch(f"/api/v1/member-fields/{single['key']}", json={"options": ["green", "yellow"]})
    assert kept.status_code == 200, kept.text
    assert kept.json()["options"] == ["green", "yellow"]


async def test_delete_with_values_is_409_unless_forced_which_removes_the_values(
    admin: ApiClient, shop: ApiClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    field = await define_field(admin, "boolean")
    other = await define_field(admin, "text", personal_data=False)
    holder = await create_member(shop, attributes={field["key"]: True, other["key"]: "kept"})
    bystander = await create_member(shop, attributes={other["key"]: "untouched"})
    url = f"/api/v1/member-fields/{field['key']}"
    error = assert_error(await admin.delete(url), 409, "member_field_in_use")
    assert error["details"] == {"key": field["key"], "members": 1}
    assert (await admin.get(url)).status_code == 200
    assert (await shop.get(f"/api/v1/members/{holder['id']}")).json()["attributes"][field["key"]] is True

    forced = await admin.delete(url, params={"force": "true"})
    assert forced.status_code == 200, forced.text
    assert forced.json() == {"key": field["key"], "values_removed": 1}
    assert_error(await admin.get(url), 404, "member_field_not_found")
    assert (await shop.get(f"/api/v1/members/{holder['id']}")).json()["attributes"] == {other["key"]: "kept"}
    assert (await shop.get(f"/api/v1/members/{bystander['id']}")).json()["attributes"] == {other["key"]: "untouched"}
    rows = await audit_rows(sessions, field["id"])
    assert rows[-1]["action"] == "member_field.delete"
    assert rows[-1]["details"] == {"key": field["key"], "force": True, "values_removed": 1, "via": "api"}
    # The key is free again, and a new field under it starts with no values.
    again = await define_field(admin, "number", key=field["key"])
    assert again["id"] != field["id"]
    assert (await admin.delete(f"/api/v1/member-fields/{field['key']}")).json()["values_removed"] == 0


async def test_idempotent_create_replays_the_first_answer(admin: ApiClient) -> None:
    body = field_body("date")
    headers = {"Idempotency-Key": f"field-{uuid.uuid4()}"}
    first = await admin.post("/api/v1/member-fields", json=body, headers=headers)
    again = await admin.post("/api/v1/member-fields", json=body, headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json() == first.json()


async def test_a_type_change_waits_for_a_member_write_in_flight_and_then_sees_its_value(
    admin: ApiClient, shop: ApiClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """The write locks the field it names until it commits, so the type change cannot count the holders before
    the new value lands (and then change the type under it)."""
    field = await define_field(admin, "number")
    member = await create_member(shop)
    async with sessions() as writer, sessions() as changer:
        await members.update(writer, uuid.UUID(member["id"]), MemberUpdate(attributes={field["key"]: 5}), source="test")
        change = asyncio.create_task(
            fields.update_field(changer, field["key"], FieldUpdate(type=FieldType.TEXT), actor=Actor.system("test"))
        )
        await asyncio.sleep(0.5)
        assert not change.done(), "the type change did not wait for the member write"
        await writer.commit()
        with pytest.raises(Conflict) as refused:
            await change
        assert refused.value.details == {"key": field["key"], "members": 1}
    assert (await admin.get(f"/api/v1/member-fields/{field['key']}")).json()["type"] == "number"
