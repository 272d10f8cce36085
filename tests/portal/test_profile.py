"""The profile form from the custom member fields: each type's input, required and optional marked, values
checked like the API (the problem on its field, nothing changed), and the completion points paid once."""

from __future__ import annotations

import re
import uuid
from typing import Any
from urllib.parse import urlencode

import httpx
from sqlalchemy import select

from core.settings import get_settings
from models import AuditEntry, Member
from tests.support.fields import fields_defined
from tests.support.helpers import ApiClient
from tests.support.messaging import Sessions
from tests.support.portal import available_points, csrf_of, portal_member, sign_in_by_link

FORM = "application/x-www-form-urlencoded"
SPECS: list[dict[str, Any]] = [
    {"field_type": "single_select", "required": True, "labels": {"en": "Favourite tea", "zh-CN": "喜欢的茶"}},
    {"field_type": "number", "labels": {"en": "Cups a day", "zh-CN": "每天几杯"}},
    {"field_type": "date", "labels": {"en": "First visit", "zh-CN": "首次到店"}},
    {"field_type": "boolean", "labels": {"en": "Likes it sweet", "zh-CN": "喜欢甜"}},
    {"field_type": "multi_select", "labels": {"en": "Stores", "zh-CN": "门店"}},
]


def _award() -> int:
    return get_settings().points.awards["profile_completed"]


async def _member(sessions: Sessions, member_id: str) -> Member:
    async with sessions() as session:
        row = await session.scalar(select(Member).where(Member.id == uuid.UUID(member_id)))
        assert row is not None
        return row


async def _save(http: httpx.AsyncClient, values: list[tuple[str, str]]) -> httpx.Response:
    page = await http.get("/portal/profile")
    body = urlencode([("csrf_token", csrf_of(page.text)), *values])
    return await http.post("/portal/profile", content=body, headers={"Content-Type": FORM})


async def test_the_form_has_an_input_for_each_field(http: httpx.AsyncClient, shop: ApiClient, admin: ApiClient) -> None:
    async with fields_defined(admin, *SPECS) as made:
        tea, cups, visit, sweet, stores = made
        member = await portal_member(shop, attributes={tea["key"]: "green"}, name=None, birthday=None)
        await sign_in_by_link(http, member["id"])
        page = (await http.get("/portal/profile")).text
        assert 'name="name"' in page  # the member has no name yet
        assert 'name="birthday" value="" type="date"' in page
        # The input ids count every field on the form, and other tests' fields may be defined too.
        assert re.search(rf'<select id="f-\d+" name="a\.{tea["key"]}"', page)
        assert '<option value="green" selected>green</option>' in page
        assert 'Favourite tea <span class="mark">required</span>' in page
        assert 'Cups a day <span class="mark">optional</span>' in page
        assert f'name="a.{cups["key"]}" value="" type="text" inputmode="decimal"' in page
        assert f'name="a.{visit["key"]}" value="" type="date"' in page
        assert f'type="radio" name="a.{sweet["key"]}" value="true"' in page
        for option in ("red", "green", "blue"):
            assert f'type="checkbox" name="a.{stores["key"]}" value="{option}"' in page
        switched = await http.get("/portal/lang/zh-CN?next=/portal/profile")
        zh = await http.get(switched.headers["location"])
        assert '喜欢的茶 <span class="mark">必填</span>' in zh.text


async def test_an_invalid_value_is_shown_on_its_field_and_nothing_changes(
    http: httpx.AsyncClient, shop: ApiClient, admin: ApiClient, sessions: Sessions
) -> None:
    async with fields_defined(admin, *SPECS) as made:
        tea, cups, _, _, _ = made
        member = await portal_member(shop, attributes={tea["key"]: "green"}, name=None, birthday=None)
        await sign_in_by_link(http, member["id"])
        refused = await _save(
            http,
            [
                ("name", "Lin Mei"),
                (f"a.{cups['key']}", "lots"),
                (f"a.{tea['key']}", "purple"),
                ("birthday", "2999-01-01"),
            ],
        )
        assert refused.status_code == 422
        assert "Some fields need a look" in refused.text
        assert 'aria-invalid="true"' in refused.text
        assert "Enter a number, such as 2 or 2.5." in refused.text
        assert "Enter your birthday: a past date after 1900." in refused.text
        assert 'value="lots"' in refused.text  # the member's entry stays in the form
        emptied = await _save(http, [(f"a.{tea['key']}", "")])  # a required value cannot be removed
        assert emptied.status_code == 422
        assert "This field is required." in emptied.text
        row = await _member(sessions, member["id"])
    assert (row.name, row.birthday, row.attributes) == (None, None, {tea["key"]: "green"})
    assert await available_points(shop, member["id"]) == 0


async def test_completing_the_profile_pays_its_points_once(
    http: httpx.AsyncClient, shop: ApiClient, admin: ApiClient, sessions: Sessions
) -> None:
    async with fields_defined(admin, *SPECS) as made:
        tea, cups, visit, sweet, stores = made
        member = await portal_member(shop, attributes={tea["key"]: "green"}, name=None, birthday=None)
        await sign_in_by_link(http, member["id"])
        partial = await _save(http, [("name", "Lin Mei"), (f"a.{cups['key']}", "2.5")])
        assert partial.status_code == 303
        assert "Your profile is saved." in (await http.get(partial.headers["location"])).text
        assert await available_points(shop, member["id"]) == 0

        values = [
            ("birthday", "1990-05-17"),
            (f"a.{visit['key']}", "2024-03-01"),
            (f"a.{sweet['key']}", "false"),
            (f"a.{stores['key']}", "blue"),
            (f"a.{stores['key']}", "red"),
            (f"a.{cups['key']}", "2.5"),
            (f"a.{tea['key']}", "green"),
        ]
        complete = await _save(http, values)
        assert complete.status_code == 303
        page = await http.get(complete.headers["location"])
        assert f"Profile complete: +{_award()} points." in page.text
        assert "Your profile is complete." in page.text
        assert 'name="name"' not in page.text  # set now: no longer asked
        assert await available_points(shop, member["id"]) == _award()

        again = await _save(http, [(f"a.{tea['key']}", "red"), (f"a.{cups['key']}", "3")])
        assert again.status_code == 303
        assert "points" not in again.headers["location"]
        assert await available_points(shop, member["id"]) == _award()
        row = await _member(sessions, member["id"])
        assert row.name == "Lin Mei"
        assert str(row.birthday) == "1990-05-17"
        assert row.attributes == {
            tea["key"]: "red",
            cups["key"]: 3,
            visit["key"]: "2024-03-01",
            sweet["key"]: False,
            stores["key"]: ["red", "blue"],
        }
        async with sessions() as session:
            entries = (
                (
                    await session.execute(
                        select(AuditEntry).where(
                            AuditEntry.target_id == member["id"], AuditEntry.action == "member.update"
                        )
                    )
                )
                .scalars()
                .all()
            )
        assert {entry.actor for entry in entries} == {f"member:{member['id']}"}
        assert "Lin Mei" not in str([entry.details for entry in entries])
