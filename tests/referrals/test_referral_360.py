"""The member API's 360 (`GET /api/v1/members/{id}`) carries the member's `referral`: their code and join link
(made on the first view, as the console and the portal make it), who referred them, and how many friends they
referred and were rewarded for; the one-statement JSON and the ORM view agree, masked or not."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from api.schemas.members import Member360Out
from core.settings import Settings
from models import ReferralCode
from services import referrals
from services.analytics import member360
from services.platform.api_keys import Role
from services.privacy.masking import View
from tests.support.helpers import ApiClient, new_member_id, order_body
from tests.support.referrals import Sessions, code_of, ledger_exact, programme_set, referral_of, sign_up, unique_contact


async def _stored_code(sessions: Sessions, member_id: str) -> str | None:
    async with sessions() as session:
        stmt = select(ReferralCode.referral_code).where(ReferralCode.member_id == uuid.UUID(member_id))
        return (await session.execute(stmt)).scalar_one_or_none()


async def _orm_referral(sessions: Sessions, member_id: str, settings: Settings) -> object:
    async with sessions() as session:
        view = await member360.view(session, uuid.UUID(member_id), public_url=settings.messaging.public_url)
        await session.commit()
    out = Member360Out.of_view(
        view, temporal_ui=settings.temporal.ui_url, namespace=settings.temporal.namespace, view=View(Role.INTEGRATION)
    )
    return out.model_dump(mode="json")["referral"]


async def test_the_360_shows_code_link_referrer_and_counts(
    shop: ApiClient, admin: ApiClient, marketer: ApiClient, sessions: Sessions, settings: Settings
) -> None:
    async with programme_set(sessions, referrer_points=300, referee_points=100):
        referrer = await new_member_id(shop, **unique_contact())
        code = await code_of(sessions, referrer)
        rewarded, waiting = [(await sign_up(shop, code)).json()["id"] for _ in range(2)]
        placed = await shop.post("/api/v1/orders", json=order_body(rewarded, amount="80.00", items=[]))
        assert placed.status_code == 201, placed.text
        found = await referral_of(sessions, rewarded)
        assert found is not None
        async with sessions() as session:  # the return window's end, as the Referral workflow's activity pays
            assert await referrals.reward(session, found.id) == "rewarded"
            await session.commit()

    link = f"{settings.messaging.public_url.rstrip('/')}/portal/join?ref={code}"
    expected = {"code": code, "link": link, "referred_by": None, "friends_referred": 2, "friends_rewarded": 1}
    for client in (shop, admin, marketer):  # nothing in it is personal: every role reads it whole
        document = await client.get(f"/api/v1/members/{referrer}")
        assert document.status_code == 200, document.text
        assert document.json()["referral"] == expected
    assert (await admin.get(f"/api/v1/members/{referrer}?unmasked=true")).json()["referral"] == expected
    assert await _orm_referral(sessions, referrer, settings) == expected

    # A referee seen for the first time gets a code of their own on that view, the same one afterwards.
    assert await _stored_code(sessions, waiting) is None
    first = (await shop.get(f"/api/v1/members/{waiting}")).json()["referral"]
    made = await _stored_code(sessions, waiting)
    assert made is not None
    assert first == {
        "code": made,
        "link": f"{settings.messaging.public_url.rstrip('/')}/portal/join?ref={made}",
        "referred_by": referrer,
        "friends_referred": 0,
        "friends_rewarded": 0,
    }
    assert (await shop.get(f"/api/v1/members/{waiting}")).json()["referral"] == first
    assert await _orm_referral(sessions, waiting, settings) == first
    assert await ledger_exact(sessions)


async def test_a_member_referred_by_no_one(shop: ApiClient, sessions: Sessions, settings: Settings) -> None:
    member = await new_member_id(shop, **unique_contact())
    document = (await shop.get(f"/api/v1/members/{member}")).json()
    assert document["referral"]["referred_by"] is None
    assert (document["referral"]["friends_referred"], document["referral"]["friends_rewarded"]) == (0, 0)
    assert document["referral"]["code"] == await _stored_code(sessions, member)
    assert await _orm_referral(sessions, member, settings) == document["referral"]
