"""The rule builder in headless Chromium: a marketer writes a rule through the form (order_completed, lifetime
spend at least 500 and tier gold, grant points), sees the server's problem on the field at fault and fixes it,
dry-runs the draft for a sample member (it would fire; another rule would not, and says why), then saves it,
and the rule is there through the API."""

from __future__ import annotations

import json
import re
import uuid
from decimal import Decimal
from pathlib import Path

from playwright.async_api import Page, expect

from api.console import assets
from models import Member
from services.platform.api_keys import Role
from tests.console.browser.conftest import PageProblems, sign_in_browser
from tests.support.console import Sessions
from tests.support.helpers import ApiClient, KeyMaker, member_body
from tests.support.rules import create_rule, new_scope, scoped


async def _gold_member(shop: ApiClient, sessions: Sessions, name: str) -> str:
    member = (await shop.post("/api/v1/members", json=member_body(name=name))).json()
    async with sessions() as session:
        row = await session.get(Member, uuid.UUID(member["id"]))
        assert row is not None
        row.tier, row.lifetime_spend = "gold", Decimal("6000.00")
        await session.commit()
    member_id: str = member["id"]
    return member_id


async def test_a_marketer_writes_dry_runs_and_saves_a_rule_with_the_builder(
    page: tuple[Page, PageProblems],
    base_url: str,
    make_key: KeyMaker,
    sessions: Sessions,
    screenshots: Path,
    shop: ApiClient,
    marketer: ApiClient,
) -> None:
    assert assets.files("rules") is not None, "the console's front end is not built: `make frontend`"
    tab, problems = page
    name = f"gold_big_spenders_{uuid.uuid4().hex[:6]}"
    person = f"Wang Fang {uuid.uuid4().hex[:6]}"
    member_id = await _gold_member(shop, sessions, person)
    # Another rule of the trigger, for members with a tag this one does not have: it will not fire.
    other = await create_rule(
        marketer,
        {
            "name": f"tagged_bonus_{uuid.uuid4().hex[:6]}",
            "trigger": {"event": "order_completed"},
            "conditions": scoped(new_scope()),
            "actions": [{"grant_points": {"points": 5}}],
            "priority": 10,
        },
    )

    await sign_in_browser(tab, base_url, await make_key(Role.MARKETER))
    await tab.goto(f"{base_url}/console/rules")
    await tab.get_by_role("link", name="New rule").click()
    await expect(tab).to_have_url(f"{base_url}/console/rules/new")
    await expect(tab.get_by_role("tab", name="Builder")).to_have_attribute("aria-selected", "true")
    await expect(tab.locator("#panel-json")).to_be_hidden()

    await tab.get_by_label("Name", exact=True).fill(name)
    await tab.get_by_label("Trigger", exact=True).select_option("order_completed")
    conditions = tab.locator('section[aria-labelledby="rule-and"]')
    await conditions.get_by_role("button", name="+ condition").click()
    spend = tab.locator('[data-condition-row="conditions.all.0"]')
    await spend.locator('select[name="field"]').select_option("lifetime_spend")
    await spend.locator('select[name="op"]').select_option("gte")
    await spend.locator('[name="value"]').fill("500")
    await conditions.get_by_role("button", name="+ condition").click()
    tier = tab.locator('[data-condition-row="conditions.all.1"]')
    await tier.locator('select[name="field"]').select_option("tier")
    await tier.locator('select[name="op"]').select_option("in")
    await tier.locator('input[name="value"][value="gold"]').check()

    # A grant of 0 points: the server's own problem, on the points field; fixed, it goes away.
    action = tab.locator('[data-action-row="0"]')
    await expect(action).to_have_attribute("data-kind", "grant_points")
    points = action.get_by_label("Points", exact=True)
    await points.fill("0")
    await expect(points).to_have_attribute("aria-invalid", "true")
    await expect(action.locator("#action-0-points-problem")).to_have_text(re.compile("greater than 0"))
    await expect(tab.locator("[data-check]")).to_have_attribute("data-check", "invalid")
    await points.fill("50")
    await expect(action.locator("#action-0-points-problem")).to_have_count(0)
    await expect(tab.locator("[data-check]")).to_have_attribute("data-check", "valid")
    # Saved disabled, so it never fires for other tests' orders; the dry run evaluates the draft regardless.
    await tab.get_by_label("Enabled: evaluated for new events").uncheck()

    dry = tab.locator(".rule-dry-run")
    await dry.get_by_label("Sample member (name, email or id)").fill(person)
    await dry.get_by_role("button", name="Find").click()
    await dry.get_by_role("button", name=person).click()
    await expect(dry.locator(f'[data-sample-member="{member_id}"]')).to_be_visible()
    await dry.get_by_label("Order amount").fill("600.00")
    await dry.get_by_role("button", name="Run dry run").click()
    mine = dry.locator(f'[data-verdict="{name}"]')
    await expect(mine).to_have_attribute("data-status", "would_fire")
    await expect(mine.locator(".rule-verdict__status")).to_have_text("Would fire")
    await expect(mine).to_contain_text("this draft")
    await expect(mine.locator(".rule-verdict__actions")).to_have_text("grant 50 points")
    theirs = dry.locator(f'[data-verdict="{other["name"]}"]')
    await expect(theirs).to_have_attribute("data-status", "condition_false")
    await expect(theirs.locator(".rule-verdict__status")).to_have_text("Does not fire: a condition is false")
    await expect(theirs.locator(".rule-verdict__reason")).to_contain_text("Tags has the tag")
    await expect(tab.locator("[data-check]")).to_have_attribute("data-check", "valid")
    await tab.set_viewport_size({"width": 1280, "height": 1400})  # the whole form and panel in one picture
    await tab.locator("#panel-builder").screenshot(path=screenshots / "rule-builder.png")

    await tab.get_by_role("button", name="Create rule").click()
    await expect(tab.locator(".flash")).to_have_text("Rule created.")
    assert re.search(r"/console/rules/[0-9a-f-]{36}\?", tab.url)
    saved = [r for r in (await marketer.get("/api/v1/rules?trigger=order_completed")).json() if r["name"] == name]
    assert len(saved) == 1
    assert saved[0]["enabled"] is False
    assert saved[0]["definition"]["conditions"] == {
        "all": [
            {"field": "lifetime_spend", "op": "gte", "value": 500},
            {"field": "tier", "op": "in", "value": ["gold"]},
        ]
    }
    assert saved[0]["definition"]["actions"] == [{"grant_points": {"points": 50}}]

    # The saved rule opens in the builder on its page; the JSON tab carries the draft across.
    await expect(tab.get_by_label("Name", exact=True)).to_have_value(name)
    await expect(tab.get_by_role("button", name="Publish new version")).to_be_visible()
    await tab.get_by_role("tab", name="Advanced (JSON)").click()
    await expect(tab.locator("textarea#definition")).to_have_value(re.compile(f'"name": "{name}"'))
    assert problems.items == []


async def test_a_seed_rule_opens_in_the_builder_whole_and_a_rule_publishes_from_it(
    page: tuple[Page, PageProblems], base_url: str, make_key: KeyMaker, marketer: ApiClient
) -> None:
    tab, problems = page
    seed = next(r for r in (await marketer.get("/api/v1/rules?trigger=review_posted")).json() if r["builtin"])
    definition = seed["definition"]
    await sign_in_browser(tab, base_url, await make_key(Role.MARKETER))

    # The built-in review award, once per review id: every setting shows in the form, and the form gives back
    # exactly the stored definition (the JSON tab carries the builder's draft).
    await tab.goto(f"{base_url}/console/rules/{seed['id']}")
    await expect(tab.get_by_label("Name", exact=True)).to_have_value(seed["name"])
    await expect(tab.get_by_label("Trigger", exact=True)).to_have_value("review_posted")
    await expect(tab.get_by_label("Fires", exact=True)).to_have_value("once_per_value")
    await expect(tab.get_by_label("Event property to limit by")).to_have_value(definition["limit_by"])
    points = tab.locator('[data-action-row="0"]').get_by_label("Points", exact=True)
    await expect(points).to_have_value(str(definition["actions"][0]["grant_points"]["points"]))
    await expect(tab.locator("[data-check]")).to_have_attribute("data-check", "valid")
    await tab.get_by_role("tab", name="Advanced (JSON)").click()
    await expect(tab.locator("#panel-builder")).to_be_hidden()
    shown = json.loads(await tab.locator("textarea#definition").input_value())
    assert shown == {**definition, "enabled": seed["enabled"]}

    # A rule of the same shape (disabled, so it never awards anything) gets a new version from the form.
    copy = await create_rule(marketer, {**definition, "name": f"review_award_{uuid.uuid4().hex[:6]}", "enabled": False})
    await tab.goto(f"{base_url}/console/rules/{copy['id']}")
    action = tab.locator('[data-action-row="0"]')
    await action.get_by_label("Points", exact=True).fill("25")
    await action.get_by_label("Reason in the ledger (optional)").fill("Thanks for the review")
    await tab.get_by_role("button", name="Add action").click()  # a second grant, then moved first
    await tab.locator('[data-action-row="1"]').get_by_label("Points", exact=True).fill("3")
    await tab.get_by_role("button", name="Move action 2 up").click()
    await expect(tab.locator("[data-check]")).to_have_attribute("data-check", "valid")
    await tab.get_by_role("button", name="Publish new version").click()
    await expect(tab.locator(".flash")).to_have_text("Published version 2.")
    stored = (await marketer.get(f"/api/v1/rules/{copy['id']}")).json()
    assert stored["current_version"] == 2
    assert stored["definition"]["actions"] == [
        {"grant_points": {"points": 3}},
        {"grant_points": {"points": 25, "reason": "Thanks for the review"}},
    ]
    assert (stored["definition"]["limit"], stored["definition"]["limit_by"]) == ("once_per_value", "review_id")
    assert problems.items == []


async def test_the_dry_run_offers_the_event_values_of_a_calendar_trigger(
    page: tuple[Page, PageProblems], base_url: str, make_key: KeyMaker, sessions: Sessions, shop: ApiClient
) -> None:
    """A `points_expiring` rule tried before it is saved: the panel asks for the points, the date and the lead
    the event would carry, and the verdict follows what was typed (600 fires a rule for 500 and more; 100 does
    not, and says which condition failed)."""
    tab, _ = page
    person = f"Zhou Min {uuid.uuid4().hex[:6]}"
    member_id = await _gold_member(shop, sessions, person)
    name = f"expiring_big_{uuid.uuid4().hex[:6]}"
    await sign_in_browser(tab, base_url, await make_key(Role.MARKETER))
    await tab.goto(f"{base_url}/console/rules/new")
    await tab.get_by_label("Name", exact=True).fill(name)
    await tab.get_by_label("Trigger", exact=True).select_option("points_expiring")
    conditions = tab.locator('section[aria-labelledby="rule-and"]')
    await conditions.get_by_role("button", name="+ condition").click()
    row = tab.locator('[data-condition-row="conditions.all.0"]')
    await row.locator('select[name="field"]').select_option("event.points")
    await row.locator('select[name="op"]').select_option("gte")
    await row.locator('[name="value"]').fill("500")
    await tab.locator('[data-action-row="0"]').get_by_label("Points", exact=True).fill("20")
    await expect(tab.locator("[data-check]")).to_have_attribute("data-check", "valid")

    dry = tab.locator(".rule-dry-run")
    await dry.get_by_label("Sample member (name, email or id)").fill(person)
    await dry.get_by_role("button", name="Find").click()
    await dry.get_by_role("button", name=person).click()
    await expect(dry.locator(f'[data-sample-member="{member_id}"]')).to_be_visible()
    await expect(dry.get_by_label("Expiry date")).to_be_visible()
    await dry.get_by_label("Days before (the birthday, the expiry)").fill("7")
    verdict = dry.locator(f'[data-verdict="{name}"]')
    for points, status in (("600", "would_fire"), ("100", "condition_false")):
        await dry.get_by_label("Points (expiring; a referral's reward)").fill(points)
        await dry.get_by_role("button", name="Run dry run").click()
        await expect(verdict).to_have_attribute("data-status", status)
    await expect(verdict.locator(".rule-verdict__reason")).to_contain_text("Points (expiring")
