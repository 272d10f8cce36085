"""The console's side of tier qualification: the Tiers page (a marketer runs the dry run and reads, an admin
saves the policy and the ladder, once audited each; bad input re-renders with the typed values and changes
nothing), the member page's tier history and next review, and the dashboard's tier movement with the reviews'
falls drawn apart from the rises.

The policy and the ladder are global: `set_policy` puts the policy back and the ladder test restores the
ladder. The dry run counts every member, so its figures are compared before and after this test's members."""

from __future__ import annotations

import re
import uuid
from datetime import date

import httpx
from fastapi import FastAPI

from core.timeutil import add_months
from services.intake import tier_review
from services.loyalty import tier_policy
from tests.support.console import console_client, csrf, sign_in
from tests.support.helpers import ApiClient, audit_rows
from tests.support.ledger import assert_ledger_ok, earn
from tests.support.tiers import Sessions, SetPolicy, at, days_ago, history, new_member, order, set_policy, tier_of

__all__ = ["set_policy"]

ROLLING = {"basis": "rolling_12m_spend", "review_rule": "anniversary", "at_risk_days": 30, "grace_days": 0}
Counts = dict[str, dict[str, int]]


def _form(**fields: object) -> dict[str, str]:
    """The policy form as the page posts it: every input, the defaults where not given."""
    values = tier_policy.TierPolicyIn().model_dump(mode="json") | fields
    return {name: str(value) for name, value in values.items()}


def forecast(html: str) -> Counts:
    """The dry run's table: rise, keep, fall per tier row (and `all`, the footer)."""
    rows = re.findall(r'<tr data-tier="([a-z0-9_]+)">(.*?)</tr>', html, re.S)
    counts = {}
    for tier, cells in rows:
        figures = [int(v.replace(",", "")) for v in re.findall(r'class="num">([\d,]+)<', cells)]
        counts[tier] = dict(zip(("rise", "keep", "fall"), figures, strict=True))
    return counts


async def _signed_in(browser: httpx.AsyncClient, key: str) -> str:
    assert (await sign_in(browser, key)).status_code == 303
    page = await browser.get("/console/tiers")
    assert page.status_code == 200, page.text
    return csrf(page.text)


async def test_a_marketer_reads_the_page_and_runs_the_dry_run_with_exact_counts_but_cannot_save(
    app: FastAPI, marketer: ApiClient, sessions: Sessions, set_policy: SetPolicy
) -> None:
    await set_policy()  # lifetime spend, the default
    tomorrow = days_ago(-1)
    proposed = _form(basis="points_earned_window", review_rule="yearly", review_month=tomorrow.month,
                     review_day=tomorrow.day)  # fmt: skip
    async with console_client(app) as browser:
        token = await _signed_in(browser, marketer.key)
        page = (await browser.get("/console/tiers")).text
        assert 'href="/console/tiers"' in page  # in the menu
        assert 'id="save-policy"' not in page
        assert 'id="save-ladder"' not in page
        assert 'name="tier-0-code" id="tier-0-code" aria-label="code of row 1" value="member" readonly' in page
        before = await browser.post("/console/tiers/dry-run", data={**proposed, "csrf_token": token})
        assert before.status_code == 200, before.text
        keeper, faller, riser, quiet = [await new_member(sessions) for _ in range(4)]
        await order(sessions, keeper, "6000.00", days_ago(10))  # 6,000 points in the window: stays gold
        await order(sessions, faller, "6000.00", days_ago(400))  # gold, nothing earned in the window: falls
        await earn(sessions, uuid.UUID(riser), 2000)  # 2,000 points: rises to silver under points
        after = await browser.post("/console/tiers/dry-run", data={**proposed, "csrf_token": token})
        assert after.status_code == 200, after.text
        saved = await browser.post("/console/tiers/policy", data={**proposed, "csrf_token": token})
        ladder = await browser.post("/console/tiers/ladder", data={"csrf_token": token})
    old, new = forecast(before.text), forecast(after.text)
    moved = {tier: {k: new[tier][k] - old[tier][k] for k in new[tier]} for tier in new}
    assert moved == {
        "member": {"rise": 1, "keep": 1, "fall": 0},
        "silver": {"rise": 0, "keep": 0, "fall": 0},
        "gold": {"rise": 0, "keep": 1, "fall": 1},
        "all": {"rise": 1, "keep": 2, "fall": 1},
    }
    assert 'id="forecast-chart"' in after.text
    assert "<svg" in after.text
    assert 'aria-label="Members who would rise, keep or fall, by tier"' in after.text
    # The form keeps the proposed values; nothing was saved and no tier moved.
    assert '<option value="points_earned_window" selected>' in after.text
    assert (saved.status_code, ladder.status_code) == (403, 403)
    async with sessions() as session:
        assert (await tier_policy.get(session)).basis == "lifetime_spend"
    assert [await tier_of(sessions, m) for m in (keeper, faller, riser, quiet)] == ["gold", "gold", "member", "member"]
    await assert_ledger_ok(sessions)


async def test_an_admin_saves_the_policy_once_audited_and_bad_input_rerenders_with_what_was_typed(
    app: FastAPI, admin: ApiClient, sessions: Sessions, set_policy: SetPolicy
) -> None:
    await set_policy()
    audited = len(await audit_rows(sessions, "policy"))
    bad = _form(basis="rolling_12m_spend", review_month=2, review_day=29, grace_days=9, window_months=0)
    async with console_client(app) as browser:
        token = await _signed_in(browser, admin.key)
        refused = await browser.post("/console/tiers/policy", data={**bad, "csrf_token": token})
        no_run = await browser.post("/console/tiers/dry-run", data={**bad, "csrf_token": token})
        good = _form(basis="rolling_12m_spend", review_rule="yearly", review_month=3, review_day=31, grace_days=9)
        saved = await browser.post("/console/tiers/policy", data={**good, "csrf_token": token})
        shown = await browser.get(saved.headers["location"])
    assert refused.status_code == 422
    assert '<span class="field-error" id="error-review_day">month 2 has no day 29 every year</span>' in refused.text
    assert 'id="error-window_months">Input should be greater than or equal to 1</span>' in refused.text
    assert 'name="grace_days" inputmode="numeric" value="9"' in refused.text  # what was typed stays
    assert 'name="window_months" inputmode="numeric" value="0" aria-invalid="true"' in refused.text
    assert '<option value="29" selected>' in refused.text
    assert "Nothing was saved" in refused.text
    assert no_run.status_code == 422
    assert "The dry run could not run" in no_run.text
    assert saved.status_code == 303
    assert "applies from each member&#39;s next review" in shown.text
    assert 'id="saved-basis">rolling 12-month spend</b>' in shown.text
    async with sessions() as session:
        policy = tier_policy.as_input(await tier_policy.get(session))
    assert (policy.basis, policy.review_month, policy.review_day, policy.grace_days) == ("rolling_12m_spend", 3, 31, 9)
    rows = await audit_rows(sessions, "policy")
    assert len(rows) == audited + 1
    assert rows[-1]["action"] == "tiers.policy.update"
    assert rows[-1]["details"]["after"]["grace_days"] == 9


async def test_an_admin_edits_the_ladder_as_rows_and_a_bad_ladder_changes_nothing(
    app: FastAPI, admin: ApiClient, sessions: Sessions, set_policy: SetPolicy
) -> None:
    await set_policy()  # lifetime spend: the holder's order reaches the top tier
    original = (await admin.get("/api/v1/tiers")).json()["tiers"]
    rows = {
        f"tier-{i}-{name}": ("; ".join(t[name]) if name == "benefits" else str(t[name]))
        for i, t in enumerate(original)
        for name in ("code", "name", "min_spend_exclusive", "earn_multiplier", "benefits")
    }
    gold = len(original) - 1
    holder = await new_member(sessions)
    await order(sessions, holder, "6000.00", days_ago(5))  # someone holds the top tier, so it cannot go
    try:
        async with console_client(app) as browser:
            token = await _signed_in(browser, admin.key)
            unordered = {**rows, "tier-1-min_spend_exclusive": "9000.00", "tier-2-name": "Gold (edited)"}
            refused = await browser.post("/console/tiers/ladder", data={**unordered, "csrf_token": token})
            in_use = {k: v for k, v in rows.items() if not k.startswith(f"tier-{gold}-")}
            held = await browser.post("/console/tiers/ladder", data={**in_use, "csrf_token": token})
            edited = {**rows, f"tier-{gold}-earn_multiplier": "2.50", f"tier-{gold}-benefits": "free tea; early sale"}
            saved = await browser.post("/console/tiers/ladder", data={**edited, "csrf_token": token})
        assert refused.status_code == 422
        assert 'id="error-tier-2-min_spend_exclusive">thresholds must be strictly increasing</span>' in refused.text
        assert 'value="Gold (edited)"' in refused.text  # what was typed stays
        assert held.status_code == 409
        assert f"members still hold tiers this ladder removes: {original[gold]['code']} (" in held.text
        assert saved.status_code == 303
        ladder = (await admin.get("/api/v1/tiers")).json()["tiers"]
        assert (ladder[gold]["earn_multiplier"], ladder[gold]["benefits"]) == ("2.50", ["free tea", "early sale"])
        assert [t["code"] for t in ladder] == [t["code"] for t in original]
        assert (await audit_rows(sessions, "ladder"))[-1]["action"] == "tiers.replace"
    finally:
        body = {"tiers": [{k: t[k] for k in ("code", "name", "min_spend_exclusive", "earn_multiplier", "benefits")}
                          for t in original]}  # fmt: skip
        assert (await admin.put("/api/v1/tiers", json=body)).status_code == 200


def tier_review_anniversary(joined: date) -> date:
    return add_months(at(joined), 12).date()


def _movement(html: str) -> tuple[int, int]:
    found = re.search(r"Tier movement in the period: ([\d,]+) up, ([\d,]+) down", html)
    assert found, "the dashboard draws the tier movement"
    return int(found[1].replace(",", "")), int(found[2].replace(",", ""))


async def test_the_member_page_shows_the_history_newest_first_and_the_dashboard_counts_the_fall_as_down(
    app: FastAPI, marketer: ApiClient, sessions: Sessions, set_policy: SetPolicy
) -> None:
    await set_policy(**ROLLING)
    joined = days_ago(417)  # a day no other tier test reviews on
    review_on = tier_review_anniversary(joined)
    faller, keeper = await new_member(sessions), await new_member(sessions)
    await order(sessions, faller, "6000.00", joined)  # gold; nothing in the year before the review
    await order(sessions, keeper, "6000.00", days_ago(200))  # gold since 200 days ago
    await order(sessions, keeper, "800.00", days_ago(100))  # 800.00 of the 5,000.01 gold needs at the review
    period = f"/console?from={review_on}&to={review_on}"
    async with console_client(app) as browser:
        assert (await sign_in(browser, marketer.key)).status_code == 303
        before = _movement((await browser.get(period)).text)
        async with sessions() as session:
            await tier_review.review_page(session, on=review_on, after=None, limit=10_000, task_queue="unused")
            session.info.clear()
            await session.commit()
        after = _movement((await browser.get(period)).text)
        fell = (await browser.get(f"/console/members/{faller}")).text
        kept = (await browser.get(f"/console/members/{keeper}")).text
    assert (after[0] - before[0], after[1] - before[1]) == (0, 1)
    assert [(c["old"], c["new"], c["direction"]) for c in await history(sessions, faller)] == [
        ("member", "gold", "up"),
        ("gold", "silver", "down"),
    ]
    changes = re.findall(r'<tr data-direction="(up|down)"><td>[^<]+</td><td>(\w+) → (\w+)</td>', fell)
    assert changes == [("down", "gold", "silver"), ("up", "member", "gold")]  # newest first
    assert "review: rolling 12-month spend 0.00 below Gold&#39;s 5,000.00" in fell
    assert "lifetime spend 6,000.00 above Gold&#39;s 5,000.00" not in fell  # rolling: the order's reason
    assert "rolling 12-month spend 6,000.00 above Gold&#39;s 5,000.00" in fell
    # The keeper's anniversary review is 165 days away; 4,200.01 more keeps gold.
    next_review = tier_review_anniversary(days_ago(200))
    assert f'<dd id="tier-next-review">{next_review}</dd>' in kept
    assert f'data-needed="4200.01">4,200.01 more by {next_review}</dd>' in kept
    assert '<dd id="tier-outcome">fall</dd>' in kept
    assert "Gold <small>on rolling 12-month spend: 800.00 so far</small>" in kept
    await assert_ledger_ok(sessions)


async def test_under_lifetime_spend_the_member_page_says_no_review_lowers_the_tier(
    app: FastAPI, marketer: ApiClient, sessions: Sessions, set_policy: SetPolicy
) -> None:
    await set_policy()
    member = await new_member(sessions)
    await order(sessions, member, "1200.00", days_ago(3))
    async with console_client(app) as browser:
        assert (await sign_in(browser, marketer.key)).status_code == 303
        page = (await browser.get(f"/console/members/{member}")).text
    assert "Silver <small>on lifetime spend: 1,200.00 so far</small>" in page
    assert "Lifetime spend never falls: no review lowers this tier." in page
    assert re.search(r'<tr data-direction="up"><td>[^<]+</td><td>member → silver</td>', page)
