"""Coupons: bad template, issue and redeem bodies are 422 naming the field and write nothing; who may do what."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models import Coupon, CouponTemplate
from services.platform.api_keys import Role
from tests.support.coupons import create_template as _template
from tests.support.coupons import issue as _issue
from tests.support.coupons import issued as _issued
from tests.support.coupons import redeem as _redeem
from tests.support.coupons import stored_status as _stored_status
from tests.support.coupons import template_body
from tests.support.helpers import ApiClient, KeyMaker, assert_error
from tests.support.helpers import new_member_id as _member


async def _count(sessions: async_sessionmaker[AsyncSession], model: type[Coupon] | type[CouponTemplate]) -> int:
    async with sessions() as session:
        return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


BAD_TEMPLATES: list[tuple[str, dict[str, Any], str]] = [
    ("unknown field", template_body(discount="10"), "body.discount"),
    ("percent above 100", template_body(kind="percent", value="100.01"), "body.value"),
    ("zero value", template_body(kind="amount", value="0"), "body.value"),
    ("float value", template_body(value=10.5), "body.value"),
    ("three decimals", template_body(kind="amount", value="1.005"), "body.value"),
    ("bad code pattern", template_body(code="New-Member 10"), "body.code"),
    ("one-letter code", template_body(code="a"), "body.code"),
    ("unknown kind", template_body(kind="bogo"), "body.kind"),
    ("validity zero", template_body(validity_days=0), "body.validity_days"),
    ("validity too long", template_body(validity_days=3651), "body.validity_days"),
    ("negative min spend", template_body(min_spend="-1.00"), "body.min_spend"),
    ("zero limit", template_body(per_member_limit=0), "body.per_member_limit"),
]


@pytest.mark.parametrize(("case", "body", "field"), BAD_TEMPLATES, ids=[c[0] for c in BAD_TEMPLATES])
async def test_bad_template_bodies_are_422_naming_the_field(
    marketer: ApiClient, sessions: async_sessionmaker[AsyncSession], case: str, body: dict[str, Any], field: str
) -> None:
    before = await _count(sessions, CouponTemplate)
    error = assert_error(await marketer.post("/api/v1/coupon-templates", json=body), 422, "validation_error")
    assert field in {d["field"] for d in error["details"]}, (case, error)
    assert await _count(sessions, CouponTemplate) == before


async def test_bad_issue_and_redeem_bodies_are_422_and_write_nothing(
    marketer: ApiClient, shop: ApiClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    template = await _template(marketer)
    member_id = await _member(shop)
    coupon = await _issued(marketer, template["code"], member_id)
    before = await _count(sessions, Coupon)
    cases: list[tuple[str, dict[str, Any], str]] = [
        ("/api/v1/coupons", {"template_code": template["code"], "member_id": member_id, "n": 2}, "body.n"),
        ("/api/v1/coupons", {"template_code": "Bad Code!", "member_id": member_id}, "body.template_code"),
        ("/api/v1/coupons", {"template_code": template["code"], "member_id": "nope"}, "body.member_id"),
        (
            "/api/v1/coupons",
            {"template_code": template["code"], "member_id": member_id, "issue_key": "has space"},
            "body.issue_key",
        ),
        ("/api/v1/coupons/redeem", {"code": coupon["code"], "member_id": member_id, "x": 1}, "body.x"),
        (
            "/api/v1/coupons/redeem",
            {"code": coupon["code"], "member_id": member_id, "order_amount": "-1.00"},
            "body.order_amount",
        ),
        (
            "/api/v1/coupons/redeem",
            {"code": coupon["code"], "member_id": member_id, "order_amount": 12.5},
            "body.order_amount",
        ),
        ("/api/v1/coupons/redeem", {"code": "", "member_id": member_id}, "body.code"),
    ]
    for url, body, field in cases:
        client = marketer if url == "/api/v1/coupons" else shop
        error = assert_error(await client.post(url, json=body), 422, "validation_error")
        assert field in {d["field"] for d in error["details"]}, (body, error)
    assert await _count(sessions, Coupon) == before
    assert await _stored_status(sessions, coupon["code"]) == "issued"


async def test_roles(marketer: ApiClient, shop: ApiClient, http: httpx.AsyncClient, make_key: KeyMaker) -> None:
    ops = ApiClient(http, await make_key(Role.OPS))
    template = await _template(marketer)
    member_id = await _member(shop)
    # Templates: marketer and admin only.
    assert_error(await shop.post("/api/v1/coupon-templates", json=template_body()), 403, "insufficient_role")
    assert_error(await ops.post("/api/v1/coupon-templates", json=template_body()), 403, "insufficient_role")
    # Issue: marketer, integration, admin.
    assert_error(await _issue(ops, template["code"], member_id), 403, "insufficient_role")
    coupon = await _issued(shop, template["code"], member_id)
    # Redeem: integration and admin; a marketer cannot mark coupons used.
    assert_error(await _redeem(marketer, coupon["code"], member_id), 403, "insufficient_role")
    assert_error(await _redeem(ops, coupon["code"], member_id), 403, "insufficient_role")
    # Reading: any role.
    assert (await ops.get("/api/v1/coupon-templates")).status_code == 200
    assert (await ops.get(f"/api/v1/members/{member_id}/coupons")).status_code == 200
    assert_error(await http.get("/api/v1/coupon-templates"), 401)


async def test_admin_may_do_everything(admin: ApiClient, shop: ApiClient) -> None:
    template = await _template(admin, kind="amount", value="5.00")
    member_id = await _member(shop)
    coupon = await _issued(admin, template["code"], member_id)
    response = await _redeem(admin, coupon["code"], member_id, order_amount="3.00")
    assert response.status_code == 200, response.text
    assert response.json()["discount"] == "3.00"
