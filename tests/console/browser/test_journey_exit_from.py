"""The journey settings panel in headless Chromium: the welcome's "Exit events apply from step" shows its
`exit_from`, a marketer moves it, and the definition the editor validates carries the choice (or none, for "the
start"); without exit events the field is not offered."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from playwright.async_api import Page, expect

from services.journeys.builtins import BUILTIN_JOURNEYS
from services.platform.api_keys import Role
from tests.console.browser.conftest import PageProblems, sign_in_browser
from tests.support.helpers import ApiClient, KeyMaker


async def _validated(tab: Page, change: object) -> dict[str, object]:
    """The definition the editor sends to validate after `change` (an awaitable that edits the form)."""
    async with tab.expect_request("**/console/api/journeys/validate") as sent:
        await change  # type: ignore[misc]
    body: dict[str, object] = json.loads((await sent.value).post_data or "{}")["definition"]
    return body


async def test_exit_from_is_shown_moved_and_cleared_in_the_journey_settings(
    page: tuple[Page, PageProblems], base_url: str, make_key: KeyMaker, canvas_bundle: Path, marketer: ApiClient
) -> None:
    tab, problems = page
    kind = f"ed_exit_from_{uuid.uuid4().hex[:6]}"
    welcome = next(d for d in BUILTIN_JOURNEYS if d["kind"] == "welcome") | {"kind": kind, "name": "Welcome, exits"}
    del welcome["trigger"]  # never started by other tests' sign-ups
    assert (await marketer.post("/api/v1/journeys", json=welcome)).status_code == 201
    await sign_in_browser(tab, base_url, await make_key(Role.MARKETER))
    await tab.goto(f"{base_url}/console/journeys/{kind}")
    await tab.get_by_role("button", name="Edit on the canvas").click()
    settings = tab.locator('[data-panel-for="journey"]')
    field = settings.get_by_label("Exit events apply from step")
    await expect(field).to_have_value("story_delay")

    moved = await _validated(tab, field.select_option("brand_story"))
    assert moved["exit_from"] == "brand_story"
    assert moved["exit_on"] == ["order_completed"]
    cleared = await _validated(tab, field.select_option(""))
    assert "exit_from" not in cleared
    await field.select_option("story_delay")
    await settings.get_by_role("checkbox", name="order_completed", exact=True).uncheck()
    await expect(field).to_have_count(0)  # no exit events: nothing to hold back
    assert problems.items == []
