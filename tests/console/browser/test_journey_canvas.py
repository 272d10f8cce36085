"""The journey canvas in headless Chromium: the welcome journey drawn by React Flow, one node per step with its
kind and summary, the edges labelled by meaning, and the live counts of the runs (a member recorded at a step
shows up on that step's node, and clicking its count lists the runs there with the member)."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

from playwright.async_api import Page, expect
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services import journeys
from services.platform.api_keys import Role
from tests.console.browser.conftest import PageProblems, sign_in_browser
from tests.support.helpers import ApiClient, KeyMaker, member_body
from tests.support.journey_runs import record_run

WELCOME_NODES = [
    ("welcome_message", "send", "Email · welcome + coupon new_member_10"),
    ("story_delay", "wait", "Wait 24 h"),
    ("brand_story", "send", "Email · brand_story"),
    ("wait_first_purchase", "wait_for", "Wait for order_completed · 6 d"),
    ("reminder", "send", "SMS · first_purchase_reminder"),
    ("done", "exit", "Exit"),
]
WELCOME_EDGES = {
    ("welcome_message", "next", "story_delay"),
    ("story_delay", "next", "brand_story"),
    ("brand_story", "next", "wait_first_purchase"),
    ("wait_first_purchase", "on_event", "done"),
    ("wait_first_purchase", "on_timeout", "reminder"),
    ("reminder", "next", "done"),
}


async def test_the_welcome_canvas_draws_each_step_its_edges_and_who_is_there(
    page: tuple[Page, PageProblems],
    base_url: str,
    make_key: KeyMaker,
    sessions: async_sessionmaker[AsyncSession],
    canvas_bundle: Path,
    screenshots: Path,
    shop: ApiClient,
) -> None:
    tab, problems = page
    name = f"Liu Yang {uuid.uuid4().hex[:6]}"
    member = (await shop.post("/api/v1/members", json=member_body(name=name))).json()
    async with sessions() as session:
        version = await journeys.get_version(session, "welcome", None)
        assert [s["id"] for s in version.definition["steps"]] == [n[0] for n in WELCOME_NODES]
        before = await journeys.step_counts(session, "welcome")
        member_id = uuid.UUID(member["id"])
        run_id = await record_run(session, "welcome", ["welcome_message", "story_delay"], member_id=member_id)
        await session.commit()
        counts = await journeys.step_counts(session, "welcome")
    waiting = before.get("story_delay", journeys.StepCounts()).now + 1
    assert counts["story_delay"].now == waiting

    await sign_in_browser(tab, base_url, await make_key(Role.MARKETER))
    await tab.goto(f"{base_url}/console/journeys/welcome")
    canvas = tab.locator("#journey-canvas")
    nodes = canvas.locator(".react-flow__node")
    await expect(nodes).to_have_count(len(WELCOME_NODES))
    for step_id, kind, summary in WELCOME_NODES:
        node = canvas.locator(f'.mf-node[data-step="{step_id}"]')
        await expect(node).to_have_attribute("data-kind", kind)
        await expect(node.locator(".mf-node__summary")).to_have_text(summary)
        await expect(node.locator(".mf-node__id")).to_have_text(step_id)
        shown = counts.get(step_id, journeys.StepCounts())
        await expect(node.locator('[data-count="now"]')).to_have_text(f"{shown.now:,} now")
        await expect(node.locator('[data-count="passed"]')).to_have_text(f"{shown.passed:,} passed")
        await expect(node.locator('[data-count="ended"]')).to_have_text(f"{shown.ended:,} ended")
    at_delay = canvas.locator('.mf-node[data-step="story_delay"] a[data-count="now"]')
    await expect(at_delay).to_have_text(f"{waiting:,} now")
    assert await at_delay.get_attribute("href") == "/console/journeys/welcome/steps/story_delay?measure=now"
    zero = canvas.locator('.mf-node[data-step="reminder"] [data-count="ended"]')
    if counts.get("reminder", journeys.StepCounts()).ended == 0:
        await expect(zero).to_have_js_property("tagName", "SPAN")  # a zero count is plain text

    edges = canvas.locator(".react-flow__edge")
    await expect(edges).to_have_count(len(WELCOME_EDGES))
    drawn = {await edge.get_attribute("data-id") for edge in await edges.all()}
    assert drawn == {f"{source}-{label}-{target}" for source, label, target in WELCOME_EDGES}
    labels = sorted(await canvas.locator(".react-flow__edge-text").all_text_contents())
    assert labels == sorted(label for _, label, _ in WELCOME_EDGES)

    # Laid out top to bottom: each step below the one it follows on every edge.
    boxes = {}
    for step_id, _, _ in WELCOME_NODES:
        box = await canvas.locator(f'.mf-node[data-step="{step_id}"]').bounding_box()
        assert box is not None
        boxes[step_id] = box
    for source, _, target in WELCOME_EDGES:
        assert boxes[target]["y"] > boxes[source]["y"] + boxes[source]["height"] / 2, (source, target)

    # The JSON editor stays, as the advanced part of the page.
    await expect(tab.get_by_role("heading", name="Advanced (JSON)", exact=False)).to_be_visible()
    await expect(tab.locator("textarea#definition")).to_have_count(1)
    await tab.locator("#journey-canvas").scroll_into_view_if_needed()
    await tab.locator("section[aria-labelledby=canvas-title]").screenshot(path=screenshots / "journey_canvas.png")

    # Clicking the count lists who is there: the member, linked to their 360 view, and the run in Temporal.
    await at_delay.click()
    await expect(tab).to_have_url(f"{base_url}/console/journeys/welcome/steps/story_delay?measure=now")
    row = tab.locator(f'#step-runs tr[data-run="{run_id}"]')
    await expect(row.get_by_role("link", name=name)).to_have_attribute("href", f"/console/members/{member['id']}")
    await expect(row.locator("a[data-temporal]")).to_have_attribute("href", re.compile(f"/workflows/[^/]+/{run_id}$"))
    assert problems.items == []
