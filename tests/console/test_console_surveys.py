"""The console's survey pages: a marketer defines an NPS and a custom survey with plain form fields (no JSON),
problems come back on the fields at fault and nothing is written, a survey is edited and deactivated; roles."""

from __future__ import annotations

import uuid

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from models import Survey
from services.platform.api_keys import Role
from tests.support.console import Sessions, console_client, csrf, sign_in
from tests.support.helpers import KeyMaker


def _form(token: str, key: str, kind: str, **overrides: str) -> dict[str, str]:
    form = {
        "csrf_token": token,
        "key": key,
        "kind": kind,
        "title_en": "How did we do?",
        "title_zh_cn": "请评价我们的服务",
        "prompt_en": "How likely are you to recommend us?",
        "prompt_zh_cn": "您有多大可能推荐我们？",
        "active": "1",
    }
    return form | overrides


async def _stored(sessions: Sessions, key: str) -> Survey | None:
    async with sessions() as session:
        return (await session.execute(select(Survey).where(Survey.key == key))).scalar_one_or_none()


async def _signed_in(client: httpx.AsyncClient, make_key: KeyMaker) -> str:
    await sign_in(client, await make_key(Role.MARKETER))
    page = await client.get("/console/surveys")
    assert page.status_code == 200
    assert 'href="/console/surveys"' in page.text  # in the marketer's navigation
    return csrf(page.text)


async def test_a_marketer_defines_edits_and_deactivates_surveys_in_forms(
    app: FastAPI, make_key: KeyMaker, sessions: Sessions
) -> None:
    async with console_client(app) as client:
        token = await _signed_in(client, make_key)
        nps = f"cs_{uuid.uuid4().hex[:8]}"
        made = await client.post("/console/surveys", data=_form(token, nps, "nps", comment_required="1"))
        assert made.status_code == 303, made.text
        stored = await _stored(sessions, nps)
        assert stored is not None
        assert (stored.kind, stored.comment_required, stored.questions) == ("nps", True, [])

        custom = f"cs_{uuid.uuid4().hex[:8]}"
        rows = {
            "q0_key": "store", "q0_type": "single_select", "q0_label_en": "Which store?",
            "q0_label_zh_cn": "哪家门店？", "q0_required": "1", "q0_options": "shanghai\nbeijing\n",
            "q1_key": "note", "q1_type": "text", "q1_label_en": "Anything else?", "q1_label_zh_cn": "其他建议？",
        }  # fmt: skip
        assert (await client.post("/console/surveys", data=_form(token, custom, "custom", **rows))).status_code == 303
        stored = await _stored(sessions, custom)
        assert stored is not None
        assert [(q["key"], q["type"], q["required"], q["options"]) for q in stored.questions] == [
            ("store", "single_select", True, ["shanghai", "beijing"]),
            ("note", "text", False, []),
        ]

        # Problems on the fields at fault; nothing written.
        bad = f"cs_{uuid.uuid4().hex[:8]}"
        refused = await client.post(
            "/console/surveys", data=_form(token, bad, "custom", title_zh_cn="", q0_key="pick", q0_type="multi_select",
                                           q0_label_en="Pick", q0_label_zh_cn="选择"),
        )  # fmt: skip
        assert refused.status_code == 422
        assert 'id="err-title_zh_cn"' in refused.text
        assert "needs at least one option" in refused.text
        assert await _stored(sessions, bad) is None
        nul = await client.post("/console/surveys", data=_form(token, bad, "nps", title_en="Hi\x00"))
        assert nul.status_code == 422
        assert "NUL" in nul.text
        taken = await client.post("/console/surveys", data=_form(token, nps, "nps"))
        assert taken.status_code == 409
        assert "already exists" in taken.text

        page = await client.get(f"/console/surveys/{custom}")
        assert page.status_code == 200
        assert 'value="Which store?"' in page.text
        edit = {**_form(csrf(page.text), custom, "custom", **rows), "title_en": "Your visit", "active": ""}
        del edit["key"], edit["kind"]
        assert (await client.post(f"/console/surveys/{custom}", data=edit)).status_code == 303
        stored = await _stored(sessions, custom)
        assert stored is not None
        assert (stored.title_en, stored.active, len(stored.questions)) == ("Your visit", False, 2)
        assert (await client.get("/console/surveys/no_such_survey")).status_code == 404


async def test_ops_do_not_see_the_survey_pages(app: FastAPI, make_key: KeyMaker) -> None:
    async with console_client(app) as client:
        await sign_in(client, await make_key(Role.OPS))
        assert (await client.get("/console/surveys")).status_code == 403
