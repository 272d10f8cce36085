"""A member's challenges on a phone in Chromium: join opt-in challenges with one tap, see progress bars move
with an order and a check-in, and the badge a completed challenge awards. Screenshot for docs/loyalty.md."""

from __future__ import annotations

import uuid
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from playwright.async_api import Page, expect
from temporalio.worker import Worker

from tests.console.browser.conftest import PageProblems
from tests.support.challenges import Sessions, own_challenge, run_of, status_is
from tests.support.helpers import ApiClient, order_body
from tests.support.ledger import assert_ledger_ok
from tests.support.portal import link_token, portal_member
from tests.support.waiting import value_when


def _opt_in(
    title: str, goals: list[dict[str, str]], points: int, badge: dict[str, str] | None = None
) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "title_en": title,
        "title_zh_cn": title,
        "enrolment": "opt_in",
        "window": {"kind": "relative", "days": 30},
        "goals": goals,
        "reward": {"points": points},
    }
    return raw | ({"badge": badge} if badge else {})


async def test_a_member_joins_challenges_and_earns_a_badge_on_a_phone(
    phone: tuple[Page, PageProblems],
    base_url: str,
    shop: ApiClient,
    workers: list[Worker],
    sessions: Sessions,
    screenshots: Path,
) -> None:
    tab, problems = phone
    member = await portal_member(shop, name="Lin Mei", timezone="UTC")
    first = _opt_in(
        "Your first order",
        [{"kind": "order_count", "target": "1"}],
        50,
        {"code": f"b{uuid.uuid4().hex[:8]}", "name_en": "First order", "name_zh_cn": "首单达人", "icon": "trophy"},
    )
    habit = _opt_in(
        "Spend 500 and check in on 3 days",
        [{"kind": "spend", "target": "500"}, {"kind": "checkin_days", "target": "3"}],
        200,
    )
    async with AsyncExitStack() as stack:
        made = [await stack.enter_async_context(own_challenge(sessions, raw)) for raw in (first, habit)]
        await tab.goto(f"{base_url}/portal/l/{link_token(member['id'])}")
        await tab.goto(f"{base_url}/portal/challenges")
        joinable = tab.get_by_test_id("challenges-join")
        for title in ("Your first order", "Spend 500 and check in on 3 days"):
            await joinable.locator("form", has_text=title).get_by_role("button", name="Join").click()
            await expect(tab.get_by_test_id("challenges-current")).to_contain_text(title)
        await expect(tab.get_by_text("Complete a challenge to earn your first badge.")).to_be_visible()

        placed = datetime.now(UTC).isoformat()
        order = order_body(member["id"], amount="320.00", placed_at=placed)
        assert (await shop.post("/api/v1/orders", json=order)).status_code == 201
        check_in = {"member_id": member["id"], "type": "checked_in", "occurred_at": placed}
        assert (await shop.post("/api/v1/events", json=check_in)).status_code == 201
        await value_when(lambda: run_of(sessions, made[0].id, uuid.UUID(member["id"])), status_is("completed"))

        await tab.reload()
        current = tab.get_by_test_id("challenges-current")
        await expect(current).to_contain_text("Spent: 320 of 500")
        await expect(current).to_contain_text("Check-in days: 1 of 3")
        bars = current.get_by_role("progressbar")
        await expect(bars.nth(0)).to_have_attribute("aria-valuenow", "64")
        await expect(bars.nth(1)).to_have_attribute("aria-valuenow", "33")
        await expect(tab.get_by_test_id("badges")).to_contain_text("First order")
        await expect(tab.get_by_text("Your first order · Completed")).to_be_visible()
        await expect(tab.get_by_test_id("challenges-join")).to_have_count(0)  # each is taken once
        await tab.screenshot(path=str(screenshots / "portal-challenges.png"), full_page=True)
    await assert_ledger_ok(sessions)
    assert problems.items == []
