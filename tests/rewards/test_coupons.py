"""Coupons: templates, issuance (limits, idempotency), redemption (discounts, precise refusals, races)."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections import Counter
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models import Coupon, CouponTemplate
from tests.support.coupons import create_template as _template
from tests.support.coupons import issue as _issue
from tests.support.coupons import issued as _issued
from tests.support.coupons import redeem as _redeem
from tests.support.coupons import stored_status as _stored_status
from tests.support.coupons import template_body
from tests.support.helpers import ApiClient, assert_error
from tests.support.helpers import new_member_id as _member

CODE = re.compile(r"^MF-[2-9A-HJ-NP-Z]{4}-[2-9A-HJ-NP-Z]{4}-[2-9A-HJ-NP-Z]{4}$")


# Templates


async def test_template_is_created_listed_and_unique_by_code(marketer: ApiClient, shop: ApiClient) -> None:
    body = template_body(kind="amount", value="20.00", min_spend="100.00", per_member_limit=3)
    response = await marketer.post("/api/v1/coupon-templates", json=body)
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["code"] == body["code"]
    assert (created["kind"], created["value"], created["min_spend"]) == ("amount", "20.00", "100.00")
    assert (created["validity_days"], created["per_member_limit"], created["active"]) == (30, 3, True)

    listed = await shop.get("/api/v1/coupon-templates")
    assert listed.status_code == 200
    assert created in listed.json()

    again = await marketer.post("/api/v1/coupon-templates", json={**body, "name": "Another"})
    error = assert_error(again, 409, "template_exists")
    assert error["details"] == {"code": body["code"]}


async def test_template_create_replays_with_the_same_idempotency_key(
    marketer: ApiClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    body = template_body()
    headers = {"Idempotency-Key": f"tpl-{uuid.uuid4().hex}"}
    first = await marketer.post("/api/v1/coupon-templates", json=body, headers=headers)
    replay = await marketer.post("/api/v1/coupon-templates", json=body, headers=headers)
    assert first.status_code == replay.status_code == 201
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json() == first.json()
    async with sessions() as session:
        count = (await session.execute(select(func.count()).where(CouponTemplate.code == body["code"]))).scalar_one()
    assert count == 1


# Issue and redeem


async def test_percent_coupon_is_issued_and_redeemed_with_the_discount(marketer: ApiClient, shop: ApiClient) -> None:
    template = await _template(marketer, value="12.5", validity_days=14)
    member_id = await _member(shop)
    coupon = await _issued(marketer, template["code"], member_id)
    assert CODE.match(coupon["code"]), coupon["code"]
    assert (coupon["status"], coupon["member_id"], coupon["template_code"]) == ("issued", member_id, template["code"])
    issued_at, expires_at = datetime.fromisoformat(coupon["issued_at"]), datetime.fromisoformat(coupon["expires_at"])
    assert expires_at - issued_at == timedelta(days=14)
    assert coupon["redeemed_at"] is None

    # 12.5% of 99.99 is 12.49875: half-up to the cent.
    response = await _redeem(shop, coupon["code"], member_id, order_amount="99.99", order_ref="A-1001")
    assert response.status_code == 200, response.text
    redeemed = response.json()
    assert redeemed["discount"] == "12.50"
    assert redeemed["coupon"]["status"] == "redeemed"
    assert redeemed["coupon"]["redeemed_order_ref"] == "A-1001"
    assert redeemed["coupon"]["redeemed_at"] is not None

    listed = (await shop.get(f"/api/v1/members/{member_id}/coupons")).json()
    assert [(c["code"], c["status"]) for c in listed] == [(coupon["code"], "redeemed")]


@pytest.mark.parametrize(
    ("kind", "value", "order_amount", "discount"),
    [
        ("percent", "10", "0.05", "0.01"),  # 0.005 rounds half-up, not to even
        ("percent", "10", "0.04", "0.00"),
        ("percent", "100", "59.90", "59.90"),  # all of it, never more
        ("percent", "33.33", "10.00", "3.33"),
        ("amount", "20.00", "150.00", "20.00"),
        ("amount", "20.00", "15.00", "15.00"),  # capped at the order amount
        ("amount", "20.00", "0", "0.00"),
        ("amount", "20.00", None, None),  # no order amount: no discount computed
    ],
)
async def test_discount_maths(
    marketer: ApiClient, shop: ApiClient, kind: str, value: str, order_amount: str | None, discount: str | None
) -> None:
    template = await _template(marketer, kind=kind, value=value)
    member_id = await _member(shop)
    coupon = await _issued(marketer, template["code"], member_id)
    extra = {"order_amount": order_amount} if order_amount is not None else {}
    response = await _redeem(shop, coupon["code"], member_id, **extra)
    assert response.status_code == 200, response.text
    assert response.json()["discount"] == discount


async def test_codes_are_matched_regardless_of_case_and_spaces(marketer: ApiClient, shop: ApiClient) -> None:
    template = await _template(marketer)
    member_id = await _member(shop)
    coupon = await _issued(marketer, template["code"], member_id)
    response = await _redeem(shop, f"  {coupon['code'].lower()} ", member_id, order_amount="10.00")
    assert response.status_code == 200, response.text
    assert response.json()["coupon"]["code"] == coupon["code"]


# Refusals


async def test_used_coupon_is_409_coupon_used(marketer: ApiClient, shop: ApiClient) -> None:
    template = await _template(marketer)
    member_id = await _member(shop)
    coupon = await _issued(marketer, template["code"], member_id)
    assert (await _redeem(shop, coupon["code"], member_id, order_ref="A-1")).status_code == 200
    assert_error(await _redeem(shop, coupon["code"], member_id, order_ref="A-2"), 409, "coupon_used")
    listed = (await shop.get(f"/api/v1/members/{member_id}/coupons")).json()
    assert listed[0]["redeemed_order_ref"] == "A-1"


async def test_expired_coupon_is_409_coupon_expired_and_reads_as_expired(
    marketer: ApiClient, shop: ApiClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    template = await _template(marketer)
    member_id = await _member(shop)
    coupon = await _issued(marketer, template["code"], member_id)
    async with sessions() as session:
        await session.execute(
            update(Coupon)
            .where(Coupon.code == coupon["code"])
            .values(issued_at=func.now() - timedelta(days=31), expires_at=func.now() - timedelta(seconds=1))
        )
        await session.commit()
    assert_error(await _redeem(shop, coupon["code"], member_id, order_amount="50.00"), 409, "coupon_expired")
    assert await _stored_status(sessions, coupon["code"]) == "issued"
    listed = (await shop.get(f"/api/v1/members/{member_id}/coupons")).json()
    assert [c["status"] for c in listed] == ["expired"]


async def test_unknown_code_or_another_members_code_is_404(
    marketer: ApiClient, shop: ApiClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    template = await _template(marketer)
    owner, other = await _member(shop), await _member(shop)
    coupon = await _issued(marketer, template["code"], owner)
    others = assert_error(await _redeem(shop, coupon["code"], other), 404, "coupon_not_found")
    unknown = assert_error(await _redeem(shop, "MF-2222-3333-4444", owner), 404, "coupon_not_found")
    # The same answer either way: a caller cannot tell a real code of someone else's from a made-up one.
    assert others["details"] == unknown["details"] is None
    assert await _stored_status(sessions, coupon["code"]) == "issued"
    # Nor does a used coupon of someone else's reveal itself as used.
    assert (await _redeem(shop, coupon["code"], owner)).status_code == 200
    assert_error(await _redeem(shop, coupon["code"], other), 404, "coupon_not_found")


async def test_order_below_min_spend_is_422_and_leaves_the_coupon_unused(
    marketer: ApiClient, shop: ApiClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    template = await _template(marketer, kind="amount", value="10.00", min_spend="50.00")
    member_id = await _member(shop)
    coupon = await _issued(marketer, template["code"], member_id)
    error = assert_error(await _redeem(shop, coupon["code"], member_id, order_amount="49.99"), 422, "coupon_min_spend")
    assert error["details"] == {"min_spend": "50.00", "order_amount": "49.99"}
    assert await _stored_status(sessions, coupon["code"]) == "issued"
    # Leaving the amount out does not skip the check.
    missing = assert_error(await _redeem(shop, coupon["code"], member_id), 422, "coupon_min_spend")
    assert missing["details"] == {"min_spend": "50.00", "order_amount": None}
    assert await _stored_status(sessions, coupon["code"]) == "issued"
    response = await _redeem(shop, coupon["code"], member_id, order_amount="50.00")
    assert response.status_code == 200, response.text
    assert response.json()["discount"] == "10.00"


async def test_per_member_limit_is_409_coupon_limit_reached(
    marketer: ApiClient, shop: ApiClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    template = await _template(marketer, per_member_limit=1)
    member_id, other = await _member(shop), await _member(shop)
    first = await _issued(marketer, template["code"], member_id)
    # Redeeming the first does not free a slot: the limit counts coupons ever issued.
    assert (await _redeem(shop, first["code"], member_id)).status_code == 200
    error = assert_error(await _issue(marketer, template["code"], member_id), 409, "coupon_limit_reached")
    assert error["details"] == {"limit": 1, "issued": 1}
    # The limit is per member.
    await _issued(marketer, template["code"], other)
    async with sessions() as session:
        count = (
            await session.execute(select(func.count()).where(Coupon.member_id == uuid.UUID(member_id)))
        ).scalar_one()
    assert count == 1


async def test_inactive_unknown_template_and_unknown_member(marketer: ApiClient, shop: ApiClient) -> None:
    inactive = await _template(marketer, active=False)
    member_id = await _member(shop)
    assert_error(await _issue(marketer, inactive["code"], member_id), 409, "template_inactive")
    assert_error(await _issue(marketer, "no_such_template", member_id), 404, "template_not_found")
    active = await _template(marketer)
    assert_error(await _issue(marketer, active["code"], str(uuid.uuid4())), 404, "member_not_found")
    assert_error(await shop.get(f"/api/v1/members/{uuid.uuid4()}/coupons"), 404, "member_not_found")
    assert (await shop.get(f"/api/v1/members/{member_id}/coupons")).json() == []


# Idempotent issuance


async def test_same_issue_key_returns_the_coupon_first_issued(
    marketer: ApiClient, shop: ApiClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    template = await _template(marketer, per_member_limit=1)
    member_id = await _member(shop)
    key = f"journey:welcome:{member_id}"
    first = await _issued(shop, template["code"], member_id, issue_key=key)
    # A retry neither issues a second coupon nor trips the limit of one.
    again = await _issued(shop, template["code"], member_id, issue_key=key)
    assert again == first
    assert first["issue_key"] == key
    async with sessions() as session:
        count = (await session.execute(select(func.count()).where(Coupon.issue_key == key))).scalar_one()
    assert count == 1
    # The key belongs to that issuance: another member (or template) under it is a conflict.
    other = await _member(shop)
    assert_error(await _issue(shop, template["code"], other, issue_key=key), 409, "issue_key_conflict")


# Concurrency


async def test_twenty_concurrent_redemptions_of_one_code_succeed_once(
    marketer: ApiClient, shop: ApiClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    template = await _template(marketer, kind="amount", value="5.00")
    member_id = await _member(shop)
    coupon = await _issued(marketer, template["code"], member_id)
    responses = await asyncio.gather(
        *(_redeem(shop, coupon["code"], member_id, order_amount="20.00", order_ref=f"R-{i}") for i in range(20))
    )
    outcomes = Counter(
        r.status_code if r.status_code == 200 else (r.status_code, r.json()["error"]["code"]) for r in responses
    )
    assert outcomes == {200: 1, (409, "coupon_used"): 19}
    winner = next(r.json() for r in responses if r.status_code == 200)
    async with sessions() as session:
        stored = (await session.execute(select(Coupon).where(Coupon.code == coupon["code"]))).scalar_one()
    assert stored.status == "redeemed"
    assert stored.redeemed_order_ref == winner["coupon"]["redeemed_order_ref"]


async def test_ten_concurrent_issues_respect_a_limit_of_two(
    marketer: ApiClient, shop: ApiClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    template = await _template(marketer, per_member_limit=2)
    member_id = await _member(shop)
    responses = await asyncio.gather(*(_issue(marketer, template["code"], member_id) for _ in range(10)))
    outcomes = Counter(
        r.status_code if r.status_code == 201 else (r.status_code, r.json()["error"]["code"]) for r in responses
    )
    assert outcomes == {201: 2, (409, "coupon_limit_reached"): 8}
    async with sessions() as session:
        count = (
            await session.execute(select(func.count()).where(Coupon.member_id == uuid.UUID(member_id)))
        ).scalar_one()
    assert count == 2


async def test_ten_concurrent_issues_under_one_key_issue_one_coupon(
    marketer: ApiClient, shop: ApiClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """A client that retries before its first try has answered: the same Idempotency-Key (and, for a journey,
    the same issue_key) ten times at once gives one coupon, and every try the first one's answer (a retry
    waits on the key's unique index until the first commits, then replays it)."""
    template = await _template(marketer)
    member_id = await _member(shop)
    header, issue_key = {"Idempotency-Key": f"iss-{uuid.uuid4().hex}"}, f"journey:test:{member_id}"
    body = {"template_code": template["code"], "member_id": member_id, "issue_key": issue_key}
    responses = await asyncio.gather(*(shop.post("/api/v1/coupons", json=body, headers=header) for _ in range(10)))
    assert [r.status_code for r in responses] == [201] * 10, [r.text for r in responses]
    succeeded = [r.json() for r in responses]
    assert all(body == succeeded[0] for body in succeeded)
    async with sessions() as session:
        codes = (await session.execute(select(Coupon.code).where(Coupon.member_id == uuid.UUID(member_id)))).scalars()
        assert list(codes) == [succeeded[0]["code"]]
    # Once settled, the key replays the first answer.
    again = await shop.post("/api/v1/coupons", json=body, headers=header)
    assert (again.status_code, again.json()) == (201, succeeded[0])
