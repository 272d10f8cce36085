"""The reward catalog in the portal: what the member can afford, one-tap redemption (spent at once, or under
review above the approval threshold, then withdrawn), and every refusal changing nothing: not enough points,
a second tap, a reward gone or inactive, a forged form, another member's redemption."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import func, select
from temporalio.worker import Worker

from models import Approval, Redemption
from tests.support.helpers import ApiClient
from tests.support.messaging import Sessions
from tests.support.portal import (
    available_points,
    csrf_of,
    give_points,
    portal_member,
    redeem_form,
    reward,
    sign_in_by_link,
)
from tests.support.waiting import value_when


async def _redemptions(sessions: Sessions, member_id: str) -> list[Redemption]:
    async with sessions() as session:
        rows = await session.execute(select(Redemption).where(Redemption.member_id == uuid.UUID(member_id)))
        return list(rows.scalars().all())


async def _signed_in(http: httpx.AsyncClient, shop: ApiClient, admin: ApiClient, points: int) -> str:
    member = await portal_member(shop)
    await give_points(admin, member["id"], points)
    await sign_in_by_link(http, member["id"])
    return str(member["id"])


async def test_the_catalog_shows_what_the_member_can_afford(
    http: httpx.AsyncClient, shop: ApiClient, admin: ApiClient
) -> None:
    await _signed_in(http, shop, admin, 100)
    cheap = await reward(admin, 60)
    dear = await reward(admin, 250)
    page = await http.get("/portal/rewards")
    assert page.status_code == 200
    assert "You have 100 points to spend" in page.text
    redeem_form(page.text, cheap["id"])  # a button for what the member can afford
    assert f"/portal/rewards/{dear['id']}/redeem" not in page.text
    dear_card = page.text.split(f'data-reward="{dear["name"]}"', 1)[1].split("</li>", 1)[0]
    assert "150 more points needed" in dear_card
    assert "<script" not in page.text


async def test_a_small_reward_is_spent_at_once_and_a_second_tap_changes_nothing(
    http: httpx.AsyncClient, shop: ApiClient, admin: ApiClient, sessions: Sessions
) -> None:
    member_id = await _signed_in(http, shop, admin, 100)
    cheap = await reward(admin, 60)
    form = redeem_form((await http.get("/portal/rewards")).text, cheap["id"])
    first = await http.post(f"/portal/rewards/{cheap['id']}/redeem", data=form)
    assert first.status_code == 303, first.text
    page = await http.get(first.headers["location"])
    assert "Redeemed: 60 points spent." in page.text
    assert await available_points(shop, member_id) == 40

    again = await http.post(f"/portal/rewards/{cheap['id']}/redeem", data=form)
    assert again.status_code == 303
    assert again.headers["location"] == first.headers["location"]
    assert await available_points(shop, member_id) == 40
    assert len(await _redemptions(sessions, member_id)) == 1
    # The same form's token for another reward: refused, nothing spent.
    other = await reward(admin, 10)
    reused = await http.post(f"/portal/rewards/{other['id']}/redeem", data=form)
    assert reused.status_code == 409
    assert "This form was already sent for another reward" in reused.text
    assert await available_points(shop, member_id) == 40


async def test_refusals_leave_points_and_redemptions_alone(
    http: httpx.AsyncClient, shop: ApiClient, admin: ApiClient, sessions: Sessions
) -> None:
    member_id = await _signed_in(http, shop, admin, 100)
    dear = await reward(admin, 250)
    cheap = await reward(admin, 60)
    page = (await http.get("/portal/rewards")).text
    csrf = csrf_of(page)
    form = {"csrf_token": csrf, "form_token": uuid.uuid4().hex}

    short = await http.post(f"/portal/rewards/{dear['id']}/redeem", data=form)
    assert short.status_code == 409
    assert "You do not have enough points for this reward." in short.text

    cheap_form = redeem_form(page, cheap["id"])
    assert (await admin.patch(f"/api/v1/rewards/{cheap['id']}", json={"active": False})).status_code == 200
    inactive = await http.post(f"/portal/rewards/{cheap['id']}/redeem", data=cheap_form)
    assert inactive.status_code == 409
    assert "This reward is no longer available." in inactive.text
    gone = await http.post(f"/portal/rewards/{uuid.uuid4()}/redeem", data=form)
    assert gone.status_code == 404
    assert (await http.post("/portal/rewards/not-a-reward/redeem", data=form)).status_code == 404

    forged = await http.post(f"/portal/rewards/{cheap['id']}/redeem", data={**form, "csrf_token": "forged"})
    assert forged.status_code == 403
    bad_token = await http.post(f"/portal/rewards/{dear['id']}/redeem", data={**form, "form_token": "x"})
    assert bad_token.status_code == 422
    assert await available_points(shop, member_id) == 100
    assert await _redemptions(sessions, member_id) == []


async def _approval_task(sessions: Sessions, redemption_id: str) -> None:
    """Wait until the RedemptionApproval workflow (started from the outbox) has opened the approver's task."""

    async def read() -> int:
        async with sessions() as session:
            found = await session.scalar(select(func.count()).where(Approval.redemption_id == uuid.UUID(redemption_id)))
            return int(found or 0)

    await value_when(read, lambda n: n == 1, what="the approval task")


async def _status(http: httpx.AsyncClient, location: str) -> str:
    page = await http.get(location)
    return page.text.split('data-testid="redemption-status">', 1)[1].split("<", 1)[0]


async def test_a_large_reward_is_under_review_until_the_member_withdraws_it(
    http: httpx.AsyncClient,
    other_browser: httpx.AsyncClient,
    shop: ApiClient,
    admin: ApiClient,
    sessions: Sessions,
    workers: list[Worker],
) -> None:
    member_id = await _signed_in(http, shop, admin, 500)
    large = await reward(admin, 300, approval_threshold=100)
    form = redeem_form((await http.get("/portal/rewards")).text, large["id"])
    answer = await http.post(f"/portal/rewards/{large['id']}/redeem", data=form)
    assert answer.status_code == 303, answer.text
    location = answer.headers["location"]
    page = await http.get(location)
    assert "Under review: 300 points are reserved until it is decided." in page.text
    assert await available_points(shop, member_id) == 200
    redemption_id = location.rsplit("/", 1)[1]

    # Another member can neither see nor withdraw it.
    thief = await portal_member(shop)
    await sign_in_by_link(other_browser, thief["id"])
    assert (await other_browser.get(location)).status_code == 404
    thief_csrf = csrf_of((await other_browser.get("/portal/rewards")).text)
    stolen = await other_browser.post(f"{location}/withdraw", data={"csrf_token": thief_csrf})
    assert stolen.status_code == 404
    assert large["name"] not in stolen.text

    await _approval_task(sessions, redemption_id)
    csrf = csrf_of(page.text)
    withdrawn = await http.post(f"{location}/withdraw", data={"csrf_token": csrf})
    assert withdrawn.status_code == 303, withdrawn.text
    assert withdrawn.headers["location"] == location
    assert await _status(http, location) == "Withdrawn"
    assert await available_points(shop, member_id) == 500
    again = await http.post(f"{location}/withdraw", data={"csrf_token": csrf})
    assert again.status_code == 409
    assert "This redemption was already decided." in again.text
    async with sessions() as session:
        status = await session.scalar(select(Redemption.status).where(Redemption.id == uuid.UUID(redemption_id)))
        count = await session.scalar(select(func.count()).where(Redemption.member_id == uuid.UUID(member_id)))
    assert (status, count) == ("cancelled", 1)
