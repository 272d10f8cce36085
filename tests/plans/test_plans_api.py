"""Paid plans through the API on the shared dev server: plans as data with bad input refused, the plan order
starting one membership even when it arrives twice at once, a second plan order renewing it, the earn
multiplier on top of the tier's, and cancellation with the proportional refund recorded exactly."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from decimal import ROUND_FLOOR, Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.schemas.members import Member360Out
from core.settings import Settings
from models import MembershipPeriod, Plan
from services.analytics import member360
from services.plans import refund_for, term
from services.platform.api_keys import Role
from services.privacy.masking import View
from tests.support.helpers import ApiClient, assert_error, new_member_id
from tests.support.ledger import assert_ledger_ok
from tests.support.plans import buy, create_plan, member_plan, memberships, order, plan_body, plan_order

Sessions = async_sessionmaker[AsyncSession]


async def _plan_count(sessions: Sessions) -> int:
    async with sessions() as session:
        return int((await session.execute(select(func.count()).select_from(Plan))).scalar_one())


async def test_a_plan_is_created_read_and_changed_by_an_admin_and_audited(
    admin: ApiClient, marketer: ApiClient, shop: ApiClient
) -> None:
    plan = await create_plan(admin, marketer)
    assert (plan["term_months"], plan["earn_multiplier"], plan["free_shipping"]) == (12, "2.00", True)
    assert (await shop.get(f"/api/v1/plans/{plan['id']}")).json()["sku"] == plan["sku"]
    assert plan["id"] in [p["id"] for p in (await shop.get("/api/v1/plans")).json()]
    change = {k: plan[k] for k in plan_body() if k != "code"} | {"price": "99.00", "refund_on_cancel": "none"}
    change["monthly_coupon"] = plan["monthly_coupon"]
    changed = await admin.put(f"/api/v1/plans/{plan['id']}", json=change)
    assert changed.status_code == 200, changed.text
    assert (changed.json()["code"], changed.json()["price"], changed.json()["refund_on_cancel"]) == (
        plan["code"],
        "99.00",
        "none",
    )
    trail = (await admin.get("/api/v1/audit", params={"target_id": plan["id"]})).json()["items"]
    assert [row["action"] for row in trail] == ["plan.update", "plan.create"]


async def test_bad_plans_are_refused_precisely_and_change_nothing(
    admin: ApiClient, marketer: ApiClient, sessions: Sessions
) -> None:
    existing = await create_plan(admin)
    before = await _plan_count(sessions)
    cases = [
        (plan_body(price=120.0), 422, "body.price"),  # a float
        (plan_body(price="0"), 422, "body.price"),
        (plan_body(term_months=0), 422, "body.term_months"),
        (plan_body(earn_multiplier="0.5"), 422, "body.earn_multiplier"),
        (plan_body(refund_on_cancel="half"), 422, "body.refund_on_cancel"),
        (plan_body(code="Has Spaces"), 422, "body.code"),
        (plan_body(currency="yuan"), 422, "body.currency"),
        (plan_body(monthly_coupon="no_such_template"), 422, "body.monthly_coupon"),
        (plan_body(surprise=True), 422, "body.surprise"),
    ]
    for body, status, field in cases:
        error = assert_error(await admin.post("/api/v1/plans", json=body), status, "validation_error")
        assert field in [d["field"] for d in error["details"]], (field, error)
    assert_error(await admin.post("/api/v1/plans", json=plan_body(code=existing["code"])), 409, "plan_exists")
    assert_error(await admin.post("/api/v1/plans", json=plan_body(sku=existing["sku"])), 409, "plan_sku_taken")
    assert_error(await marketer.post("/api/v1/plans", json=plan_body()), 403)
    assert_error(await admin.get(f"/api/v1/plans/{uuid.uuid4()}"), 404, "plan_not_found")
    assert await _plan_count(sessions) == before


async def test_the_plan_order_starts_a_membership_with_its_benefits(
    admin: ApiClient, marketer: ApiClient, shop: ApiClient, sessions: Sessions
) -> None:
    plan = await create_plan(admin, marketer)
    member_id = await new_member_id(shop)
    assert (await member_plan(shop, member_id))["current"] is None
    bought = await buy(shop, member_id, plan)
    assert bought["points_earned"] == 120  # the plan's multiplier starts with the next order
    held = await member_plan(shop, member_id)
    assert held["free_shipping"] is True
    assert held["current"]["plan_code"] == plan["code"]
    assert held["current"]["earn_multiplier"] == "2.00"
    (membership,) = held["memberships"]
    assert (membership["status"], membership["renewals"]) == ("active", 0)
    started = datetime.fromisoformat(membership["started_at"])
    assert datetime.fromisoformat(membership["ends_at"]) == started.replace(year=started.year + 1)
    assert (await order(shop, member_id, "100.00"))["points_earned"] == 200  # ×1 tier, ×2 plan
    await assert_ledger_ok(sessions)


async def test_the_plan_order_ingested_twice_at_once_starts_one_membership(
    admin: ApiClient, shop: ApiClient, sessions: Sessions
) -> None:
    plan = await create_plan(admin)
    member_id = await new_member_id(shop)
    body = plan_order(member_id, plan)
    answers = await asyncio.gather(*(shop.post("/api/v1/orders", json=body) for _ in range(2)))
    assert sorted(a.status_code for a in answers) == [201, 409]
    assert [a for a in answers if a.status_code == 409][0].json()["error"]["code"] == "order_exists"
    (membership,) = await memberships(sessions, member_id)
    assert (membership.status, membership.renewals) == ("active", 0)
    await assert_ledger_ok(sessions)


async def test_two_plan_orders_at_once_start_one_membership_and_renew_it(
    admin: ApiClient, shop: ApiClient, sessions: Sessions
) -> None:
    plan = await create_plan(admin, term_months=6)
    member_id = await new_member_id(shop)
    answers = await asyncio.gather(*(shop.post("/api/v1/orders", json=plan_order(member_id, plan)) for _ in range(2)))
    assert [a.status_code for a in answers] == [201, 201]
    (membership,) = await memberships(sessions, member_id)
    assert membership.renewals == 1
    started = membership.started_at
    assert membership.ends_at == started.replace(year=started.year + 1)  # two 6-month terms back to back
    async with sessions() as session:
        kinds = (
            await session.execute(select(MembershipPeriod.kind).where(MembershipPeriod.membership_id == membership.id))
        ).scalars()
        assert sorted(kinds) == ["renewal", "start"]


def _period(starts: datetime, ends: datetime, amount: str) -> MembershipPeriod:
    return MembershipPeriod(starts_at=starts, ends_at=ends, amount=Decimal(amount))


def test_the_refund_is_the_unused_share_by_days_rounded_down_to_the_cent() -> None:
    start = datetime(2026, 1, 10, tzinfo=UTC)
    first = _period(start, datetime(2027, 1, 10, tzinfo=UTC), "120.00")  # 365 days
    renewal = _period(datetime(2027, 1, 10, tzinfo=UTC), datetime(2028, 1, 10, tzinfo=UTC), "100.00")
    at = datetime(2026, 4, 20, 12, tzinfo=UTC)  # 100.5 days in: 101 days used, 264 left
    assert refund_for([first], at) == Decimal("86.79")  # 120 × 264 / 365 = 86.794...
    assert refund_for([first, renewal], at) == Decimal("186.79")  # the renewal not begun: whole
    assert refund_for([first], start) == Decimal("120.00")
    assert refund_for([first], datetime(2027, 1, 10, tzinfo=UTC)) == Decimal("0.00")
    assert refund_for([first, renewal], datetime(2027, 7, 11, tzinfo=UTC)) == Decimal("50.13")  # 183 of 365 left


async def test_cancelling_ends_the_benefits_now_and_records_the_proportional_refund(
    admin: ApiClient, marketer: ApiClient, shop: ApiClient, sessions: Sessions
) -> None:
    plan = await create_plan(admin, marketer)
    member_id = await new_member_id(shop)
    await buy(shop, member_id, plan)
    (membership,) = (await member_plan(shop, member_id))["memberships"]
    url = f"/api/v1/memberships/{membership['id']}/cancel"
    assert_error(await marketer.post(url), 403)
    assert_error(await shop.post(url, json={"reason": "moving"}), 422, "validation_error")
    assert_error(await shop.post(f"/api/v1/memberships/{uuid.uuid4()}/cancel"), 404, "membership_not_found")
    headers = {"Idempotency-Key": f"cancel-{uuid.uuid4()}"}
    cancelled = await shop.post(url, headers=headers)
    assert cancelled.status_code == 200, cancelled.text
    out = cancelled.json()
    assert out["status"] == "cancelled"
    started = datetime.fromisoformat(out["started_at"])
    days = (datetime.fromisoformat(out["ends_at"]) - started).days
    used = -(-(datetime.fromisoformat(out["ended_at"]) - started) // timedelta(days=1))  # a day begun is used
    expected = (Decimal("120.00") * (days - used) / days).quantize(Decimal("0.01"), rounding=ROUND_FLOOR)
    assert Decimal(out["refund_amount"]) == expected
    replayed = await shop.post(url, headers=headers)
    assert (replayed.status_code, replayed.json()) == (200, out)
    assert_error(await shop.post(url), 409, "membership_not_active")
    held = await member_plan(shop, member_id)
    assert (held["current"], held["free_shipping"]) == (None, False)
    assert (await order(shop, member_id, "100.00"))["points_earned"] == 100  # the multiplier went with it
    await assert_ledger_ok(sessions)


async def test_a_plan_without_refunds_records_none_and_an_admin_cancel_is_audited(
    admin: ApiClient, shop: ApiClient
) -> None:
    plan = await create_plan(admin, refund_on_cancel="none")
    member_id = await new_member_id(shop)
    await buy(shop, member_id, plan)
    (membership,) = (await member_plan(shop, member_id))["memberships"]
    cancelled = await admin.post(f"/api/v1/memberships/{membership['id']}/cancel", json={})
    assert (cancelled.status_code, cancelled.json()["refund_amount"]) == (200, "0.00")
    trail = (await admin.get("/api/v1/audit", params={"target_id": membership["id"]})).json()["items"]
    assert [row["action"] for row in trail] == ["membership.cancel"]


async def test_a_plan_order_soon_after_the_end_renews_as_a_new_membership_and_later_starts_afresh(
    admin: ApiClient, shop: ApiClient, sessions: Sessions
) -> None:
    plan = await create_plan(admin)
    member_id = await new_member_id(shop)
    await buy(shop, member_id, plan)
    (first,) = await memberships(sessions, member_id)
    async with sessions() as session:  # the term's expiry step, as its workflow runs it at the end
        assert (await term.expire(session, first.id, first.ends_at)).status == "ended"
        await session.commit()
    await buy(shop, member_id, plan)
    old, renewal = await memberships(sessions, member_id)
    assert (old.status, renewal.status, renewal.renewed_from_id) == ("ended", "active", first.id)
    async with sessions() as session:
        (kind,) = (
            await session.execute(select(MembershipPeriod.kind).where(MembershipPeriod.membership_id == renewal.id))
        ).scalars()
    assert kind == "renewal"


async def test_the_plan_kpis_count_paid_members_new_renewals_and_churn(
    admin: ApiClient, marketer: ApiClient, shop: ApiClient, sessions: Sessions
) -> None:
    plan = await create_plan(admin)
    a, b, c, d = [await new_member_id(shop) for _ in range(4)]
    for member_id in (a, b, b, c, d):
        await buy(shop, member_id, plan)
    (of_c,) = (await member_plan(shop, c))["memberships"]
    cancelled = (await shop.post(f"/api/v1/memberships/{of_c['id']}/cancel")).json()
    (of_d,) = await memberships(sessions, d)
    async with sessions() as session:
        await term.expire(session, of_d.id, of_d.ends_at)
        await session.commit()
    await buy(shop, d, plan)  # d renews after the end: not churned
    today = datetime.now(UTC).date().isoformat()
    report = await marketer.get("/api/v1/kpis/plans", params={"from": today, "to": today})
    assert report.status_code == 200, report.text
    (stat,) = [s for s in report.json()["plans"] if s["plan"] == plan["code"]]
    assert stat == {
        "plan": plan["code"],
        "paid_members": 3,  # a, b, d
        "new": 4,
        "renewals": 2,  # b before the end, d after it
        "churned": 1,  # c
        "cancelled": 1,
        "refunds": cancelled["refund_amount"],
        "paid": "720.00",
        "renewal_rate": "0.6667",
    }
    assert_error(await shop.get("/api/v1/kpis/plans"), 403)
    assert_error(await marketer.get("/api/v1/kpis/plans", params={"from": today, "to": "2000-01-01"}), 422)


async def test_the_member_360_shows_the_plan_its_end_and_benefits_the_same_on_both_paths(
    admin: ApiClient, marketer: ApiClient, shop: ApiClient, sessions: Sessions, settings: Settings
) -> None:
    plan = await create_plan(admin, marketer)
    member_id = await new_member_id(shop)
    assert (await shop.get(f"/api/v1/members/{member_id}")).json()["paid_plan"] is None
    await buy(shop, member_id, plan)
    (membership,) = await memberships(sessions, member_id)
    shown = (await shop.get(f"/api/v1/members/{member_id}")).json()["paid_plan"]
    assert shown == {
        "plan_code": plan["code"],
        "plan_name_en": "Tea House Plus",
        "plan_name_zh_cn": "茶舍 Plus 会员",
        "membership_id": str(membership.id),
        "ends_at": membership.ends_at.isoformat().replace("+00:00", "Z"),
        "earn_multiplier": "2.00",
        "monthly_coupon": plan["monthly_coupon"],
        "free_shipping": True,
    }
    async with sessions() as session:
        view = await member360.view(session, uuid.UUID(member_id))
    orm = Member360Out.of_view(
        view, temporal_ui=settings.temporal.ui_url, namespace=settings.temporal.namespace, view=View(Role.INTEGRATION)
    )
    assert orm.model_dump(mode="json")["paid_plan"] == shown
