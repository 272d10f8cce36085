"""The journey editor's send_survey step in headless Chromium: the palette offers it, its panel picks one of the
active surveys from the catalog (and says when none is picked, as the API would), its node sums it up; a
published journey with a survey step opens on the canvas and comes back unchanged (the step is not dropped)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from playwright.async_api import Page, expect

from services.journeys.definition import Definition
from services.journeys.diff import diff
from services.platform.api_keys import Role
from tests.console.browser.conftest import PageProblems, sign_in_browser
from tests.support.helpers import ApiClient, KeyMaker
from tests.support.surveys import nps_body


async def _survey(marketer: ApiClient, **overrides: object) -> str:
    made = await marketer.post("/api/v1/surveys", json=nps_body(**overrides))
    assert made.status_code == 201, made.text
    key: str = made.json()["key"]
    return key


async def test_a_marketer_adds_a_survey_step_from_the_palette(
    page: tuple[Page, PageProblems], base_url: str, make_key: KeyMaker, canvas_bundle: Path, marketer: ApiClient
) -> None:
    tab, problems = page
    active = await _survey(marketer)
    inactive = await _survey(marketer, active=False)
    await sign_in_browser(tab, base_url, await make_key(Role.MARKETER))
    await tab.goto(f"{base_url}/console/journeys/new")
    pane = tab.locator("#journey-canvas .react-flow__pane")
    await tab.locator('[data-palette="send_survey"]').drag_to(pane, target_position={"x": 300, "y": 120})

    node = tab.locator('.mf-node[data-step="send_survey_1"]')
    panel = tab.locator('[data-panel-for="send_survey_1"]')
    survey = panel.get_by_label("Survey")
    await expect(survey).to_have_attribute("aria-invalid", "true")  # the validator's "Field required"
    await expect(panel.locator("p.mf-problem").first).to_have_text("Field required")
    assert await survey.locator(f'option[value="{active}"]').count() == 1
    assert await survey.locator(f'option[value="{inactive}"]').count() == 0  # an inactive survey is not offered
    await survey.select_option(active)
    await panel.get_by_label("Channel").select_option("sms")
    await expect(node.locator(".mf-node__summary")).to_have_text(f"SMS · survey {active}")
    await expect(survey).not_to_have_attribute("aria-invalid", "true")
    assert problems.items == []


async def test_a_journey_with_a_survey_step_comes_back_unchanged_from_the_canvas(
    page: tuple[Page, PageProblems], base_url: str, make_key: KeyMaker, canvas_bundle: Path, marketer: ApiClient
) -> None:
    tab, problems = page
    key = await _survey(marketer)
    kind = f"ask_{uuid.uuid4().hex[:8]}"
    definition = {
        "kind": kind,
        "name": "Ask after delivery",
        "steps": [
            {"id": "ask", "send_survey": {"survey": key, "channel": "email"}, "next": "done"},
            {"id": "done", "exit": {}},
        ],
    }
    created = await marketer.post("/api/v1/journeys", json=definition)
    assert created.status_code == 201, created.text
    try:
        stored = (await marketer.get(f"/api/v1/journeys/{kind}")).json()["definition"]
        await sign_in_browser(tab, base_url, await make_key(Role.MARKETER))
        await tab.goto(f"{base_url}/console/journeys/{kind}")
        async with tab.expect_request("**/console/api/journeys/validate") as sent:
            await tab.get_by_role("button", name="Edit on the canvas").click()
        body = json.loads((await sent.value).post_data or "{}")["definition"]
        changes = diff(Definition.model_validate(stored), Definition.model_validate(body))
        assert {s.status for s in changes.steps} == {"same"}, changes
        assert {e.status for e in changes.edges} == {"same"}
        await expect(tab.locator('.mf-node[data-step="ask"] .mf-node__summary')).to_have_text(f"Email · survey {key}")
        await expect(tab.locator(".mf-valid")).to_be_visible()
    finally:
        await marketer.post(f"/api/v1/journeys/{kind}/disable")
    assert problems.items == []
