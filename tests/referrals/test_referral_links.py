"""Linking at sign-up and paying out: every refusal is a precise 4xx that creates no member and no referral;
concurrent sign-ups keep the monthly limit; concurrent payouts (a retried activity, a second run) pay once."""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy import func, select

from models import Member, Referral
from services import referrals
from tests.support.coupons import create_template
from tests.support.helpers import ApiClient, new_member_id, order_body
from tests.support.loyalty import points_of
from tests.support.referrals import (
    Sessions,
    code_of,
    ledger_exact,
    programme_set,
    referral_of,
    referral_postings,
    sign_up,
    unique_contact,
)


async def _members_with_external_id(sessions: Sessions, external_id: str) -> int:
    async with sessions() as session:
        stmt = select(func.count()).select_from(Member).where(Member.external_id == external_id)
        return int((await session.execute(stmt)).scalar_one())


async def _refused(shop: ApiClient, sessions: Sessions, code: str | object, status: int, error: str, **contact: str):
    external_id = f"cust-{uuid.uuid4().hex[:12]}"
    response = await sign_up(shop, code, external_id=external_id, **contact)  # type: ignore[arg-type]
    assert response.status_code == status, response.text
    body = response.json()["error"]
    assert body["code"] == error
    assert await _members_with_external_id(sessions, external_id) == 0  # the sign-up changed nothing
    return body


async def test_a_code_links_the_referee_and_is_normalised(shop: ApiClient, sessions: Sessions) -> None:
    referrer = await new_member_id(shop, **unique_contact())
    code = await code_of(sessions, referrer)
    assert await code_of(sessions, referrer) == code  # made once, then read
    assert len(code) == 8
    assert set(code) <= set("23456789ABCDEFGHJKLMNPQRSTUVWXYZ")
    typed = f" {code[:4].lower()}-{code[4:]} "
    joined = await sign_up(shop, typed)
    assert joined.status_code == 201, joined.text
    linked = await referral_of(sessions, joined.json()["id"])
    assert linked is not None
    assert (str(linked.referrer_id), linked.code, linked.status) == (referrer, code, "linked")


async def test_unknown_and_malformed_codes_are_refused(shop: ApiClient, sessions: Sessions) -> None:
    unknown = await _refused(shop, sessions, "ZZZZ-ZZZZ", 422, "referral_code_unknown")
    assert unknown["details"] == [{"field": "body.referral_code", "message": "no member has this referral code"}]
    await _refused(shop, sessions, "not a code!", 422, "referral_code_unknown")
    too_long = await _refused(shop, sessions, "A" * 33, 422, "validation_error")
    assert too_long["details"][0]["field"] == "body.referral_code"
    await _refused(shop, sessions, 12345678, 422, "validation_error")


async def test_self_referral_by_email_or_phone_is_refused(shop: ApiClient, sessions: Sessions) -> None:
    contact = unique_contact()
    referrer = await new_member_id(shop, **contact)
    code = await code_of(sessions, referrer)
    body = await _refused(shop, sessions, code, 422, "referral_self", email=contact["email"].upper())
    assert body["details"][0]["field"] == "body.referral_code"
    await _refused(shop, sessions, code, 422, "referral_self", phone=contact["phone"])


async def test_an_email_or_phone_of_an_earlier_referee_is_refused(shop: ApiClient, sessions: Sessions) -> None:
    first = await code_of(sessions, await new_member_id(shop, **unique_contact()))
    second = await code_of(sessions, await new_member_id(shop, **unique_contact()))
    contact = unique_contact()
    assert (await sign_up(shop, first, **contact)).status_code == 201
    again = await _refused(shop, sessions, second, 409, "referral_contact_used", email=contact["email"].title())
    assert again["details"] == [{"field": "body.email", "message": "already used by an earlier referee"}]
    phone = await _refused(shop, sessions, second, 409, "referral_contact_used", phone=contact["phone"])
    assert phone["details"][0]["field"] == "body.phone"


async def test_the_monthly_limit_holds_under_concurrent_sign_ups(shop: ApiClient, sessions: Sessions) -> None:
    async with programme_set(sessions, monthly_limit=3):
        referrer = await new_member_id(shop, **unique_contact())
        code = await code_of(sessions, referrer)
        answers = await asyncio.gather(*(sign_up(shop, code) for _ in range(6)))
        assert sorted(a.status_code for a in answers) == [201] * 3 + [409] * 3
        refused = [a.json()["error"] for a in answers if a.status_code == 409]
        assert {e["code"] for e in refused} == {"referral_limit_reached"}
        await _refused(shop, sessions, code, 409, "referral_limit_reached")
    async with sessions() as session:
        made = select(func.count()).where(Referral.referrer_id == uuid.UUID(referrer))
        assert (await session.execute(made)).scalar_one() == 3


async def test_a_switched_off_programme_takes_no_referrals(shop: ApiClient, sessions: Sessions) -> None:
    code = await code_of(sessions, await new_member_id(shop, **unique_contact()))
    async with programme_set(sessions, active=False):
        await _refused(shop, sessions, code, 409, "referral_programme_inactive")


async def test_concurrent_payouts_and_cancels_settle_once(shop: ApiClient, sessions: Sessions) -> None:
    """Two payouts and a cancel of one referral at once (a retried activity racing a second run): one wins,
    each member is paid at most once, and the ledger stays exact."""
    async with programme_set(sessions, referrer_points=500, referee_points=200):
        referrer = await new_member_id(shop, **unique_contact())
        joined = await sign_up(shop, await code_of(sessions, referrer))
        referee = joined.json()["id"]
        placed = await shop.post("/api/v1/orders", json=order_body(referee, amount="80.00", items=[]))
        assert placed.status_code == 201, placed.text
        row = await referral_of(sessions, referee)
        assert row is not None
        assert row.status == "qualifying"

        async def pay() -> str:
            async with sessions() as session:
                status = await referrals.reward(session, row.id)
                await session.commit()
                return status

        outcomes = await asyncio.gather(pay(), pay(), pay())
        assert outcomes == ["rewarded"] * 3
        async with sessions() as session:
            assert await referrals.cancel(session, row.id, "order_refunded") == "rewarded"
    assert (await points_of(shop, referrer))["posted"] == 500
    assert (await points_of(shop, referee))["posted"] == 80 + 200
    assert await referral_postings(sessions, row.id) == 2
    assert await ledger_exact(sessions)


async def test_a_refund_the_signal_missed_still_cancels(shop: ApiClient, sessions: Sessions) -> None:
    referrer = await new_member_id(shop, **unique_contact())
    joined = await sign_up(shop, await code_of(sessions, referrer))
    referee = joined.json()["id"]
    placed = await shop.post("/api/v1/orders", json=order_body(referee, amount="80.00", items=[]))
    order_id = placed.json()["id"]
    refund = {"external_id": f"rf-{uuid.uuid4().hex[:8]}", "amount": "80.00"}
    assert (await shop.post(f"/api/v1/orders/{order_id}/refunds", json=refund)).status_code == 201
    row = await referral_of(sessions, referee)
    assert row is not None
    async with sessions() as session:
        assert await referrals.reward(session, row.id) == "cancelled"
        await session.commit()
    assert (await points_of(shop, referrer))["posted"] == 0
    assert await referral_postings(sessions, row.id) == 0
    assert await ledger_exact(sessions)


async def test_a_coupon_reward_is_issued_once(shop: ApiClient, admin: ApiClient, sessions: Sessions) -> None:
    template = (await create_template(admin, code=f"ref_{uuid.uuid4().hex[:8]}"))["code"]
    async with programme_set(sessions, referrer_reward="coupon", referrer_coupon=template, referee_points=0):
        referrer = await new_member_id(shop, **unique_contact())
        referee = (await sign_up(shop, await code_of(sessions, referrer))).json()["id"]
        assert (
            await shop.post("/api/v1/orders", json=order_body(referee, amount="10.00", items=[]))
        ).status_code == 201
        row = await referral_of(sessions, referee)
        assert row is not None

        async def pay() -> str:
            async with sessions() as session:
                status = await referrals.reward(session, row.id)
                await session.commit()
                return status

        assert await asyncio.gather(pay(), pay()) == ["rewarded", "rewarded"]
    coupons = (await shop.get(f"/api/v1/members/{referrer}/coupons")).json()
    assert [c["template_code"] for c in coupons if c["template_code"] == template] == [template]
    settled = await referral_of(sessions, referee)
    assert settled is not None
    assert settled.referrer_coupon_id is not None
    assert (settled.referrer_points, settled.referee_points) == (0, 0)
    assert await referral_postings(sessions, row.id) == 0
    assert await ledger_exact(sessions)
