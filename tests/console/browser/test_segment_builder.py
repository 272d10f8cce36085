"""The segment builder in headless Chromium: a marketer builds a segment from rows and a nested any-group, watches
the live count follow each change, sees problems on the rows (and on the name: taken) and fixes them, saves, and
the segment exists through the API with that count; a custom field's row offers the field's own options. The
members are made through the shop API, under a tag of the test's own, so other tests' members never enter the
counts."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio
from playwright.async_api import Locator, Page, expect
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.members import fields
from services.members.fields import FieldCreate
from services.platform.api_keys import Role
from services.platform.audit import Actor
from tests.console.browser.conftest import PageProblems, sign_in_browser
from tests.support.helpers import ApiClient, KeyMaker, member_body, order_body

# name: the orders each one places (spend sets the tier: silver above 1,000, gold above 5,000).
SHOPPERS = {
    "Ada": ["6000.00"],  # gold, 1 order
    "Cora": ["2600.00", "2600.00"],  # gold, 2 orders
    "Eli": ["1500.00"],  # silver
    "Bo": ["150.00"],  # member
    "Dee": [],  # never purchased
}


async def _shoppers(shop: ApiClient, tag: str) -> dict[str, str]:
    ids = {}
    for first, amounts in SHOPPERS.items():
        name = f"{first} {tag[-6:]}"
        created = await shop.post("/api/v1/members", json=member_body(name=name, tags=[tag]))
        assert created.status_code == 201, created.text
        ids[first] = created.json()["id"]
        for amount in amounts:
            item = {"sku": "TEA-001", "name": "Oolong", "quantity": 1, "unit_price": amount}
            order = await shop.post("/api/v1/orders", json=order_body(ids[first], amount=amount, items=[item]))
            assert order.status_code == 201, order.text
    return ids


def _row(tab: Page, path: str) -> Locator:
    return tab.locator(f'[data-segment-row="{path}"]')


async def _add_condition(tab: Page, group: str) -> None:
    await tab.locator(f'[data-segment-group="{group}"] > .mf-group__add button[name="add-condition"]').click()


def _unexpected(problems: PageProblems) -> list[str]:
    """The page's console problems, without the browser's own note on each 4xx answer the builder asked for."""
    return [p for p in problems.items if "Failed to load resource" not in p]


async def test_a_marketer_builds_a_segment_with_a_live_count_and_saves_it(
    page: tuple[Page, PageProblems],
    base_url: str,
    make_key: KeyMaker,
    shop: ApiClient,
    marketer: ApiClient,
    screenshots: Path,
) -> None:
    tab, problems = page
    tag = f"sb_{uuid.uuid4().hex[:10]}"
    ids = await _shoppers(shop, tag)
    taken = f"Big spenders {tag}"
    assert (await marketer.post("/api/v1/segments", json={"name": taken, "definition": {"all": []}})).status_code == 201

    await sign_in_browser(tab, base_url, await make_key(Role.MARKETER))
    await tab.goto(f"{base_url}/console/segments/new")
    count = tab.locator("[data-preview-count]")
    await expect(tab.get_by_text("No conditions: every member.")).to_be_visible()

    # Only this test's members: tagged with its tag (typed, then Enter).
    await _add_condition(tab, "definition")
    tags = _row(tab, "definition.all.0")
    await tags.locator('select[name="what"]').select_option("tags")
    await tags.locator('input[name="tag"]').fill(tag)
    await tags.locator('input[name="tag"]').press("Enter")
    await expect(tags.locator(f'[data-tag="{tag}"]')).to_be_visible()
    await expect(count).to_have_text("5 members")

    # A tier row starts with no tier chosen: the server's problem shows on the row instead of a count.
    await _add_condition(tab, "definition")
    tier = _row(tab, "definition.all.1")
    await expect(tier).to_have_attribute("aria-invalid", "true")
    await expect(tier.locator(".mf-problem")).to_contain_text("at least 1 item")
    await expect(count).to_contain_text("Fix the problems")
    await tier.get_by_label("Gold").check()
    await expect(count).to_have_text("2 members")
    await expect(tier).not_to_have_attribute("aria-invalid", "true")

    # Lifetime spend: a negative bound is refused on its row, then fixed.
    await _add_condition(tab, "definition")
    spend = _row(tab, "definition.all.2")
    await spend.locator('select[name="what"]').select_option("lifetime_spend")
    await expect(spend.locator('select[name="op"]')).to_have_value("gte")
    await spend.locator('input[name="value"]').fill("-5")
    await expect(spend.locator(".mf-problem")).to_contain_text("greater than or equal to 0")
    await spend.locator('input[name="value"]').fill("5500")
    await expect(count).to_have_text("1 member")
    await expect(spend.locator(".mf-problem")).to_have_count(0)

    # A nested any-group: at least two orders, or at least 6,000 spent.
    await tab.locator('[data-segment-group="definition"] > .mf-group__add button[name="add-group"]').click()
    group = "definition.all.3"
    await expect(tab.locator(f'[data-segment-group="{group}"] select[name="mode"]')).to_have_value("any")
    orders = _row(tab, f"{group}.any.0")
    await orders.locator('select[name="what"]').select_option("order_count")
    await orders.locator('input[name="value"]').fill("2")
    await expect(count).to_have_text("0 members")  # Ada, the only one left, ordered once
    await _add_condition(tab, group)
    big = _row(tab, f"{group}.any.1")
    await big.locator('select[name="what"]').select_option("lifetime_spend")
    await big.locator('input[name="value"]').fill("6000")
    await expect(count).to_have_text("1 member")
    sample = tab.locator(".mf-sample tbody tr")
    await expect(sample).to_have_count(1)
    await expect(sample.get_by_role("link")).to_have_attribute("href", f"/console/members/{ids['Ada']}")
    await expect(sample.locator("td").nth(1)).to_have_text("gold")
    await expect(sample.locator("td").nth(2)).to_have_text("6,000.00")

    # The JSON tab shows the same filter.
    await tab.get_by_role("tab", name="Advanced (JSON)").click()
    await expect(tab.locator("textarea#segment-json")).to_contain_text('"order_count"')
    await tab.get_by_role("tab", name="Conditions").click()
    await expect(_row(tab, f"{group}.any.1")).to_be_visible()

    # A taken name is the API's 409, shown on the name field; nothing is saved until it is changed.
    await tab.locator('input[name="name"]').fill(taken)
    await tab.locator('input[name="description"]').fill("Gold, big or repeat buyers")
    await tab.locator("#segment-builder").screenshot(path=screenshots / "segment-builder.png")
    await tab.get_by_role("button", name="Save segment").click()
    await expect(tab.locator("#name-error")).to_contain_text("exists")
    name = f"Gold regulars {tag}"
    await tab.locator('input[name="name"]').fill(name)
    await tab.get_by_role("button", name="Save segment").click()
    await tab.wait_for_url(lambda url: "/console/segments/" in url and "flash=" in url)
    await expect(tab.locator(".flash")).to_have_text(f"Saved {name}.")

    listed = [s for s in (await marketer.get("/api/v1/segments")).json() if s["name"] == name]
    assert len(listed) == 1
    saved = listed[0]
    assert saved["description"] == "Gold, big or repeat buyers"
    assert saved["definition"] == {
        "all": [
            {"tags": {"any": [tag]}},
            {"tier": ["gold"]},
            {"lifetime_spend": {"gte": "5500"}},
            {"any": [{"order_count": {"gte": 2}}, {"lifetime_spend": {"gte": "6000"}}]},
        ]
    }
    counted = await marketer.post("/api/v1/segments/preview", json={"segment_id": saved["id"]})
    assert counted.json()["count"] == 1
    assert [m["id"] for m in counted.json()["sample"]] == [ids["Ada"]]
    # The saved segment opens in the builder as it was saved.
    assert tab.url.startswith(f"{base_url}/console/segments/{saved['id']}")
    await expect(count).to_have_text("1 member")
    await expect(_row(tab, "definition.all.3.any.1").locator('input[name="value"]')).to_have_value("6000")

    # Deleting asks first, then goes back to the list, which no longer has it.
    await tab.get_by_role("button", name="Delete segment…").click()
    await tab.get_by_role("button", name="Yes, delete").click()
    await tab.wait_for_url(lambda url: url.split("?")[0].endswith("/console/segments"))
    await expect(tab.locator(".flash")).to_have_text(f"Deleted {name}.")
    await expect(tab.locator(f'tr[data-segment="{saved["id"]}"]')).to_have_count(0)
    assert (await marketer.get(f"/api/v1/segments/{saved['id']}")).status_code == 404
    assert _unexpected(problems) == []


@pytest_asyncio.fixture
async def city_field(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[str]:
    """A single-select custom field of this test's own (definitions are global), removed with its values after."""
    key = f"sb_city_{uuid.uuid4().hex[:8]}"
    data = FieldCreate.model_validate(
        {
            "key": key,
            "labels": {"en": f"City {key[-4:]}", "zh-CN": "城市"},
            "type": "single_select",
            "options": ["Shanghai", "Beijing", "Shenzhen"],
        }
    )
    async with sessions() as session:
        await fields.create(session, data, actor=Actor.system("test"))
        await session.commit()
    yield key
    async with sessions() as session:
        await fields.delete_field(session, key, force=True, actor=Actor.system("test"))
        await session.commit()


async def test_a_custom_field_row_takes_the_fields_options(
    page: tuple[Page, PageProblems], base_url: str, make_key: KeyMaker, shop: ApiClient, city_field: str
) -> None:
    tab, problems = page
    tag = f"sb_{uuid.uuid4().hex[:10]}"
    for city in ("Shanghai", "Shanghai", "Beijing", "Shenzhen"):
        body = member_body(tags=[tag], attributes={city_field: city})
        assert (await shop.post("/api/v1/members", json=body)).status_code == 201

    await sign_in_browser(tab, base_url, await make_key(Role.MARKETER))
    await tab.goto(f"{base_url}/console/segments/new")
    count = tab.locator("[data-preview-count]")
    await _add_condition(tab, "definition")
    tags = _row(tab, "definition.all.0")
    await tags.locator('select[name="what"]').select_option("tags")
    await tags.locator('input[name="tag"]').fill(tag)
    await tags.get_by_role("button", name="add tag").click()
    await expect(count).to_have_text("4 members")

    await _add_condition(tab, "definition")
    city = _row(tab, "definition.all.1")
    await city.locator('select[name="what"]').select_option(f"attribute:{city_field}")
    await expect(city.locator('select[name="op"]')).to_have_value("exists")
    await city.locator('select[name="op"]').select_option("eq")
    await expect(city.locator('select[name="value"] option')).to_have_text(["Shanghai", "Beijing", "Shenzhen"])
    await expect(count).to_have_text("2 members")  # "is" starts on the first option, Shanghai
    await city.locator('select[name="op"]').select_option("in")
    await city.get_by_label("Beijing").check()
    await city.get_by_label("Shenzhen").check()
    await expect(count).to_have_text("2 members")
    await city.get_by_label("Shenzhen").uncheck()
    await expect(count).to_have_text("1 member")
    await city.locator('select[name="op"]').select_option("missing")
    await expect(count).to_have_text("0 members")
    assert _unexpected(problems) == []
