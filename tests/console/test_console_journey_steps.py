"""The console's list of the runs behind a count on the journey canvas: each run with its member (linked to the 360
view, the name escaped), its version, status, when it reached and left the step, and its run in the Temporal UI;
"older" pages; 404s for an unknown journey, step or measure; and only roles with the journeys page."""

from __future__ import annotations

import json
import re
import uuid

from fastapi import FastAPI

from services import journeys
from services.platform.api_keys import Role
from services.platform.audit import Actor
from tests.support.console import Sessions, console_client, sign_in
from tests.support.helpers import ApiClient, KeyMaker, member_body
from tests.support.journey_runs import record_run


async def _journey(sessions: Sessions) -> str:
    kind = f"steps_{uuid.uuid4().hex[:8]}"
    definition = {
        "kind": kind,
        "name": "Step lists",
        "steps": [
            {"id": "hello", "send": {"channel": "email", "template": "welcome"}},
            {"id": "pause", "wait": {"hours": 24}},
            {"id": "done", "exit": {}},
        ],
    }
    async with sessions() as session:
        await journeys.create(session, journeys.parse(definition), actor=Actor.system("test"))
        await session.commit()
    return kind


def _run_rows(html: str) -> list[str]:
    return re.findall(r'<tr data-run="([^"]+)">', html)


async def test_a_run_at_a_step_is_listed_under_now_and_passed_with_its_member_and_temporal_links(
    app: FastAPI, shop: ApiClient, make_key: KeyMaker, sessions: Sessions
) -> None:
    kind = await _journey(sessions)
    name = f"<script>alert(1)</script> Chen {uuid.uuid4().hex[:6]}"
    member = (await shop.post("/api/v1/members", json=member_body(name=name))).json()
    async with sessions() as session:
        run_id = await record_run(session, kind, ["hello", "pause"], member_id=uuid.UUID(member["id"]))
        gone = await record_run(session, kind, ["hello", "pause", "done"], ending="completed")
        await session.commit()
    settings = app.state.settings
    temporal = (
        f"{settings.temporal.ui_url.rstrip('/')}/namespaces/{settings.temporal.namespace}"
        f"/workflows/journey-{kind}-{member['id']}/{run_id}"
    )
    async with console_client(app) as client:
        await sign_in(client, await make_key(Role.MARKETER))
        now = await client.get(f"/console/journeys/{kind}/steps/pause", params={"measure": "now"})
        assert now.status_code == 200, now.text
        assert _run_rows(now.text) == [run_id]
        assert f'href="/console/members/{member["id"]}"' in now.text
        assert member["external_id"] in now.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt; Chen" in now.text
        assert "<script>alert" not in now.text
        assert f'href="{temporal}"' in now.text
        assert "Wait 24 h" in now.text
        assert "still there" in now.text
        assert 'data-measure="passed"' in now.text  # the other counts link to their lists

        passed = await client.get(f"/console/journeys/{kind}/steps/pause?measure=passed")
        assert passed.status_code == 200
        assert _run_rows(passed.text) == [gone, run_id]  # newest first
        assert "(member not found)" in passed.text  # the second run's member has no row

        ended = await client.get(f"/console/journeys/{kind}/steps/done?measure=ended")
        assert _run_rows(ended.text) == [gone]
        assert _run_rows((await client.get(f"/console/journeys/{kind}/steps/hello?measure=now")).text) == []
        default = await client.get(f"/console/journeys/{kind}/steps/pause")
        assert _run_rows(default.text) == [run_id]  # no measure: who is there now


async def test_the_journey_page_links_each_non_zero_count_to_its_list(
    app: FastAPI, make_key: KeyMaker, sessions: Sessions
) -> None:
    kind = await _journey(sessions)
    async with sessions() as session:
        await record_run(session, kind, ["hello", "pause"])
        await session.commit()
    async with console_client(app) as client:
        await sign_in(client, await make_key(Role.MARKETER))
        page = await client.get(f"/console/journeys/{kind}")
    assert page.status_code == 200
    embedded = re.search(r'<script type="application/json" id="journey-graph">(.*?)</script>', page.text, re.S)
    assert embedded is not None
    pause = next(n for n in json.loads(embedded.group(1))["nodes"] if n["id"] == "pause")
    assert pause["counts"] == {"now": 1, "passed": 1, "ended": 0}
    assert pause["count_urls"] == {
        measure: f"/console/journeys/{kind}/steps/pause?measure={measure}" for measure in ("now", "passed", "ended")
    }
    assert "now_url" not in pause  # the list links to Temporal, run by run


async def test_older_pages_list_every_run_once_and_a_bad_cursor_shows_the_first_page(
    app: FastAPI, make_key: KeyMaker, sessions: Sessions
) -> None:
    kind = await _journey(sessions)
    async with sessions() as session:
        ids = [await record_run(session, kind, ["hello"]) for _ in range(53)]
        await session.commit()
    async with console_client(app) as client:
        await sign_in(client, await make_key(Role.ADMIN))
        first = await client.get(f"/console/journeys/{kind}/steps/hello?measure=passed")
        assert _run_rows(first.text) == list(reversed(ids))[:50]
        older = re.search(r'<a href="([^"]+)" rel="next">', first.text)
        assert older is not None
        second = await client.get(older.group(1).replace("&amp;", "&"))
        assert _run_rows(second.text) == list(reversed(ids))[50:]
        assert 'rel="next"' not in second.text
        assert "← Newest" in second.text
        edited = await client.get(f"/console/journeys/{kind}/steps/hello?measure=passed&cursor=bm90LWEtY3Vyc29y")
        assert edited.status_code == 200
        assert _run_rows(edited.text) == list(reversed(ids))[:50]


async def test_unknown_journeys_steps_and_measures_are_404_and_roles_without_journeys_get_403(
    app: FastAPI, make_key: KeyMaker, sessions: Sessions
) -> None:
    kind = await _journey(sessions)
    async with console_client(app) as client:
        await sign_in(client, await make_key(Role.MARKETER))
        missing = await client.get(f"/console/journeys/none_{uuid.uuid4().hex[:6]}/steps/hello")
        assert missing.status_code == 404
        assert "There is no such journey" in missing.text
        step = await client.get(f"/console/journeys/{kind}/steps/nowhere")
        assert step.status_code == 404
        assert "no such step" in step.text
        measure = await client.get(f"/console/journeys/{kind}/steps/hello?measure=stuck")
        assert measure.status_code == 404
        assert "now, passed and ended" in measure.text
    for role in (Role.APPROVER, Role.OPS):
        async with console_client(app) as client:
            await sign_in(client, await make_key(role))
            refused = await client.get(f"/console/journeys/{kind}/steps/hello?measure=now")
            assert refused.status_code == 403, role
