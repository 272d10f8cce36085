"""The journey editor in headless Chromium: a marketer builds the abandoned-cart journey from an empty canvas on
/console/journeys/new (drags the steps in from the palette, connects them, fills their forms, sees a send without
a template marked on its node and in its panel, fixes it) and publishes it; then a member who leaves a cart runs
through the published version, checked through the HTTP API. The journey's page then compares two versions."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.async_api import Locator, Page, expect
from temporalio.testing import WorkflowEnvironment

from models import JourneyDraft
from services import journeys
from services.journeys.builtins import BUILTIN_JOURNEYS
from services.journeys.definition import Definition
from services.journeys.diff import diff
from services.platform.api_keys import Role
from tests.console.browser.conftest import PageProblems, sign_in_browser
from tests.support.console import Sessions
from tests.support.helpers import ApiClient, KeyMaker, midday_zone, new_member_id


async def _drop(tab: Page, kind: str, x: int, y: int) -> None:
    pane = tab.locator("#journey-canvas .react-flow__pane")
    await tab.locator(f'[data-palette="{kind}"]').drag_to(pane, target_position={"x": x, "y": y})


async def _rename(panel: Locator, new_id: str) -> None:
    field = panel.get_by_label("Step id")
    await field.fill(new_id)
    await field.press("Enter")


async def _connect(tab: Page, source: str, route: str, target: str) -> None:
    out = tab.locator(f'.mf-node[data-step="{source}"] .react-flow__handle[data-handleid="{route}"]')
    into = tab.locator(f'.mf-node[data-step="{target}"] .react-flow__handle[data-handleid="in"]')
    a, b = await out.bounding_box(), await into.bounding_box()
    assert a is not None
    assert b is not None
    await tab.mouse.move(a["x"] + a["width"] / 2, a["y"] + a["height"] / 2)
    await tab.mouse.down()
    await tab.mouse.move(b["x"] + b["width"] / 2, b["y"] + b["height"] / 2, steps=12)
    await tab.mouse.up()
    await expect(tab.locator(f'.react-flow__edge[data-id="{source}-{route}-{target}"]')).to_have_count(1)


async def _wait_for_run(shop: ApiClient, member_id: str, kind: str, status: str) -> dict[str, object]:
    for _ in range(400):
        runs = (await shop.get(f"/api/v1/members/{member_id}/journeys")).json()
        found = [r for r in runs if r["kind"] == kind and r["status"] == status]
        if found:
            return found[0]
        await asyncio.sleep(0.05)
    raise AssertionError(f"no {status} run of {kind}: {runs}")


@pytest.mark.time_skipping
async def test_a_marketer_builds_the_abandoned_cart_journey_on_an_empty_canvas_and_a_member_runs_it(
    page: tuple[Page, PageProblems],
    base_url: str,
    make_key: KeyMaker,
    canvas_bundle: Path,
    screenshots: Path,
    shop: ApiClient,
    marketer: ApiClient,
    temporal_env: WorkflowEnvironment,
    workers: None,
) -> None:
    tab, problems = page
    kind = f"cart_rescue_{uuid.uuid4().hex[:6]}"
    await sign_in_browser(tab, base_url, await make_key(Role.MARKETER))
    await tab.goto(f"{base_url}/console/journeys/new")
    settings = tab.locator('[data-panel-for="journey"]')
    await settings.get_by_label("Kind").fill(kind)
    await settings.get_by_label("Name").fill("Cart rescue")
    await settings.get_by_label("Trigger event").select_option("cart_abandoned")
    await settings.get_by_label("Re-entry").select_option("after_exit")
    await settings.get_by_role("checkbox", name="order_completed", exact=True).check()

    await _drop(tab, "wait", 300, 80)
    panel = tab.locator('[data-panel-for="wait_1"]')
    await _rename(panel, "grace")
    panel = tab.locator('[data-panel-for="grace"]')
    await panel.get_by_label("hours").fill("2")
    await _drop(tab, "send", 300, 260)
    panel = tab.locator('[data-panel-for="send_1"]')
    await _rename(panel, "nudge")
    panel = tab.locator('[data-panel-for="nudge"]')
    await panel.get_by_label("Channel").select_option("sms")
    await _drop(tab, "exit", 300, 440)
    await _rename(tab.locator('[data-panel-for="exit_1"]'), "done")
    await _connect(tab, "grace", "next", "nudge")
    await _connect(tab, "nudge", "next", "done")

    # A send without a template: its node is marked, with the count, and its panel says why, as the API would.
    nudge = tab.locator('.mf-node[data-step="nudge"]')
    await expect(nudge).to_have_class(re.compile(r"\bmf-node--invalid\b"))
    await expect(nudge.locator(".mf-node__problems")).to_have_text("1 problem")
    await nudge.click()
    panel = tab.locator('[data-panel-for="nudge"]')
    template = panel.get_by_label("Template")
    await expect(template).to_have_attribute("aria-invalid", "true")
    await expect(panel.locator(".mf-problem")).to_have_text("Field required")
    await expect(tab.locator("#editor-problems")).to_contain_text("nudge")
    await template.select_option("cart_reminder")
    await panel.get_by_label("Coupon").select_option("cart_5")
    await expect(panel.locator('[data-preview="sms"]')).to_contain_text("SAMPLE-CODE")
    await panel.get_by_label("Preview locale").select_option("zh-CN")
    await expect(panel.locator(".mf-preview")).to_have_attribute("data-preview-locale", "zh-CN")
    await expect(nudge.locator(".mf-node__problems")).to_have_count(0)
    await expect(tab.locator(".mf-valid")).to_have_text("No problems: ready to publish.")
    await tab.locator("#journey-canvas").screenshot(path=screenshots / "journey-editor.png")

    await tab.get_by_role("button", name="Publish").click()
    await tab.wait_for_url(f"{base_url}/console/journeys/{kind}?published=1")
    await expect(tab.locator('.mf-node[data-step="nudge"] .mf-node__summary')).to_have_text(
        "SMS · cart_reminder + coupon cart_5"
    )
    builtin_on = False
    try:
        published = (await marketer.get(f"/api/v1/journeys/{kind}")).json()
        assert published["definition"]["trigger"] == {"event": "cart_abandoned"}
        assert published["definition"]["exit_on"] == ["order_completed"]
        assert [(s["id"], s.get("next")) for s in published["definition"]["steps"]] == [
            ("grace", "nudge"),
            ("nudge", "done"),
            ("done", None),
        ]

        # A member leaves a cart: the published version runs, two hours later the SMS with its coupon goes out. The
        # built-in abandoned-cart journey listens for the same event; it is off meanwhile, so its SMS cannot take
        # the member's frequency cap first.
        builtin_on = (await marketer.get("/api/v1/journeys/abandoned_cart")).json()["enabled"]
        await marketer.post("/api/v1/journeys/abandoned_cart/disable")
        # Consent to SMS, and a time zone where it is midday, so quiet hours do not hold the message back.
        member_id = await new_member_id(shop, timezone=midday_zone(), consent={"email": True, "sms": True})
        event = {
            "member_id": member_id,
            "type": "cart_abandoned",
            "occurred_at": datetime.now(UTC).isoformat(),
            "properties": {"cart_id": "c-9"},
        }
        assert (await shop.post("/api/v1/events", json=event)).status_code == 201
        running = await _wait_for_run(shop, member_id, kind, "running")
        assert running["version"] == 1
        await temporal_env.sleep(timedelta(hours=3))
        done = await _wait_for_run(shop, member_id, kind, "completed")
        steps = [s["step"] for s in done["steps"]]  # type: ignore[attr-defined]
        assert list(dict.fromkeys(steps)) == ["grace", "nudge", "done"]
        sent = (await shop.get(f"/api/v1/messages?member_id={member_id}")).json()["items"]
        ours = [(m["template"], m["status"]) for m in sent if kind in m["message_key"]]
        assert ours == [("cart_reminder", "sent")], sent
    finally:
        await marketer.post(f"/api/v1/journeys/{kind}/disable")  # other tests' carts must not start it
        if builtin_on:
            await marketer.post("/api/v1/journeys/abandoned_cart/enable")
    assert problems.items == []


async def test_every_builtin_opens_in_the_editor_and_comes_back_unchanged(
    page: tuple[Page, PageProblems], base_url: str, make_key: KeyMaker, canvas_bundle: Path, sessions: Sessions
) -> None:
    """The editor's graph → definition mapping, through the real browser: what it would validate (and publish) for
    each built-in, opened and left as it is, differs in nothing from the stored version and has no problems."""
    tab, problems = page
    await sign_in_browser(tab, base_url, await make_key(Role.MARKETER))
    for raw in BUILTIN_JOURNEYS:
        async with sessions() as session:
            if await session.get(JourneyDraft, raw["kind"]) is not None:
                continue  # someone's draft would open instead of the version
            stored = (await journeys.get_version(session, raw["kind"])).definition
        await tab.goto(f"{base_url}/console/journeys/{raw['kind']}")
        async with tab.expect_request("**/console/api/journeys/validate") as sent:
            await tab.get_by_role("button", name="Edit on the canvas").click()
        body = json.loads((await sent.value).post_data or "{}")["definition"]
        changes = diff(Definition.model_validate(stored), Definition.model_validate(body))
        assert {s.status for s in changes.steps} == {"same"}, (raw["kind"], changes)
        assert {e.status for e in changes.edges} == {"same"}, raw["kind"]
        assert changes.settings == [], raw["kind"]
        async with sessions() as session:
            assert await journeys.check(session, Definition.model_validate(body)) == []
        await expect(tab.locator(".mf-valid")).to_be_visible()
    assert problems.items == []


async def test_two_versions_compare_on_the_canvas(
    page: tuple[Page, PageProblems],
    base_url: str,
    make_key: KeyMaker,
    canvas_bundle: Path,
    screenshots: Path,
    marketer: ApiClient,
) -> None:
    tab, problems = page
    kind = f"ed_diff_{uuid.uuid4().hex[:6]}"
    first = next(d for d in BUILTIN_JOURNEYS if d["kind"] == "welcome") | {"kind": kind, "name": "Welcome, compared"}
    del first["trigger"]  # never started: the welcome's trigger would enrol every member other tests sign up
    assert (await marketer.post("/api/v1/journeys", json=first)).status_code == 201
    second = json.loads(json.dumps(first))
    second["steps"] = [s for s in second["steps"] if s["id"] != "brand_story"]
    second["steps"][1]["wait"] = {"hours": 48}
    second["steps"].insert(2, {"id": "bonus", "grant_points": {"points": 50, "reason": "welcome bonus"}})
    assert (await marketer.put(f"/api/v1/journeys/{kind}", json=second)).status_code == 200
    await sign_in_browser(tab, base_url, await make_key(Role.MARKETER))
    await tab.goto(f"{base_url}/console/journeys/{kind}?version=1")
    await expect(tab.get_by_text("Version 1, read-only.")).to_be_visible()
    await tab.get_by_label("Compare with").select_option("2")
    canvas = tab.locator("#journey-canvas")
    await expect(canvas.locator('.mf-node[data-step="bonus"]')).to_have_attribute("data-diff", "added")
    await expect(canvas.locator('.mf-node[data-step="brand_story"]')).to_have_attribute("data-diff", "removed")
    await expect(canvas.locator('.mf-node[data-step="story_delay"]')).to_have_attribute("data-diff", "changed")
    await expect(canvas.locator('.mf-node[data-step="welcome_message"]')).not_to_have_attribute(
        "data-diff", re.compile(".")
    )
    await expect(canvas.locator(".react-flow__edge.mf-edge--removed")).not_to_have_count(0)
    await expect(canvas.locator(".react-flow__edge.mf-edge--added")).not_to_have_count(0)
    await canvas.locator('.mf-node[data-step="story_delay"]').click()
    changed = tab.locator('[data-panel-for="story_delay"] [data-changed-fields]')
    await expect(changed).to_contain_text("wait.hours")
    await expect(tab.locator("#diff-summary")).to_contain_text("1 added")
    await canvas.screenshot(path=screenshots / "journey-diff.png")
    assert problems.items == []
