"""The points-at-checkout KPIs against a brand of its own in a database of its own, so every figure is known:
checkouts held, captured, released and timed out in March 2026, the points captured and their value, the points
refunds gave back, a tier filter, the API's answers and roles, and the dashboard's tile."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import httpx
import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.settings import Settings
from devstack.embedded import EmbeddedPostgres
from services.analytics import kpis
from services.analytics.kpis import Period
from services.intake import orders
from services.loyalty import checkouts, invariants
from services.platform.api_keys import Role
from tests.support.brand import at, joined_member, placed_order, scratch_database
from tests.support.brand_app import app_on, key_for
from tests.support.console import console_client, sign_in
from tests.support.helpers import assert_error

Sessions = async_sessionmaker[AsyncSession]
MARCH = Period(date(2026, 3, 1), date(2026, 3, 31))
LABEL = "cokpi"


@dataclass(frozen=True)
class Brand:
    url: str
    sessions: Sessions


async def _checkout(session: AsyncSession, member: uuid.UUID, points: int, order_amount: str, held: date) -> uuid.UUID:
    """A checkout holding `points` (the migration's rate: 100 points = 1.00 CNY, up to half the order), dated
    to have been placed at noon on `held`."""
    checkout = await checkouts.create(
        session,
        checkouts.CheckoutCreate(
            external_id=f"{LABEL}-{uuid.uuid4().hex[:10]}",
            member_id=member,
            order_amount=Decimal(order_amount),
            currency="CNY",
            points=points,
        ),
        task_queue=f"{LABEL}-test",
    )
    await session.execute(
        text("UPDATE checkouts SET created_at = :at WHERE id = :id"), {"at": at(held), "id": checkout.id}
    )
    return checkout.id


async def _settled_on(session: AsyncSession, checkout_id: uuid.UUID, day: date) -> None:
    await session.execute(
        text("UPDATE checkouts SET resolved_at = :at WHERE id = :id"), {"at": at(day, 13), "id": checkout_id}
    )


async def _paid_order(session: AsyncSession, member: uuid.UUID, checkout_id: uuid.UUID, amount: str, day: date) -> Any:
    order = await orders.ingest(
        session,
        orders.OrderCreate(
            external_id=f"{LABEL}-o-{uuid.uuid4().hex[:10]}",
            member_id=member,
            amount=Decimal(amount),
            currency="CNY",
            placed_at=at(day, 12),
            checkout_id=checkout_id,
        ),
        task_queue=f"{LABEL}-test",
    )
    await _settled_on(session, checkout_id, day)
    return order


async def _refund(session: AsyncSession, order_id: uuid.UUID, amount: str, day: date) -> None:
    await orders.refund(
        session,
        order_id,
        orders.RefundCreate(
            external_id=f"{LABEL}-r-{uuid.uuid4().hex[:8]}", amount=Decimal(amount), refunded_at=at(day)
        ),
    )


@pytest_asyncio.fixture(scope="module")
async def brand(postgres: EmbeddedPostgres) -> AsyncIterator[Brand]:
    """Ana (6,000 points from a first order) and Bo (2,000, moved to the silver tier):
    A, Ana: 1,000 points held 2 March, captured 3 March with a 200.00 order, half refunded 20 March (500 back);
    B, Ana: 2,000 held 5 March, captured 6 March with a 400.00 order, fully refunded 2 April (outside);
    C, Ana: 500 held 10 March, released 10 March;
    D, Ana: 600 held 12 March, timed out 12 March;
    E, Ana: 800 held 30 March, still held;
    F, Bo: 1,500 held 27 February (outside), captured 1 March with a 300.00 order;
    G, Ana: 700 held 28 February, released 2 March;
    and a refund in March of an order that used no points (it returns none)."""
    db = await scratch_database(postgres, LABEL)
    async with db.sessions() as session:
        ana = await joined_member(session, date(2026, 1, 5), label=LABEL)
        bo = await joined_member(session, date(2026, 1, 6), label=LABEL)
        plain = await placed_order(session, ana, date(2026, 2, 1), "6000.00", label=LABEL)
        await placed_order(session, bo, date(2026, 2, 1), "2000.00", label=LABEL)
        a = await _checkout(session, ana, 1_000, "200.00", date(2026, 3, 2))
        order_a = await _paid_order(session, ana, a, "200.00", date(2026, 3, 3))
        b = await _checkout(session, ana, 2_000, "400.00", date(2026, 3, 5))
        order_b = await _paid_order(session, ana, b, "400.00", date(2026, 3, 6))
        c = await _checkout(session, ana, 500, "100.00", date(2026, 3, 10))
        await checkouts.release(session, c)
        await _settled_on(session, c, date(2026, 3, 10))
        d = await _checkout(session, ana, 600, "150.00", date(2026, 3, 12))
        assert await checkouts.expire(session, d) == "expired"
        await _settled_on(session, d, date(2026, 3, 12))
        await _checkout(session, ana, 800, "200.00", date(2026, 3, 30))
        f = await _checkout(session, bo, 1_500, "300.00", date(2026, 2, 27))
        await _paid_order(session, bo, f, "300.00", date(2026, 3, 1))
        g = await _checkout(session, ana, 700, "200.00", date(2026, 2, 28))
        await checkouts.release(session, g)
        await _settled_on(session, g, date(2026, 3, 2))
        await _refund(session, order_a.id, "100.00", date(2026, 3, 20))
        await _refund(session, order_b.id, "400.00", date(2026, 4, 2))
        await _refund(session, plain, "10.00", date(2026, 3, 21))
        await session.execute(text("UPDATE members SET tier = 'silver' WHERE id = :id"), {"id": bo})
        await session.execute(text("UPDATE members SET tier = 'gold' WHERE id = :id"), {"id": ana})
        assert (await invariants.check(session)).ok
        await session.commit()
    yield Brand(db.url, db.sessions)
    await db.engine.dispose()


async def test_the_periods_checkouts_points_and_returns(brand: Brand) -> None:
    async with brand.sessions() as session:
        report = await kpis.checkout_report(session, MARCH)
    assert report == kpis.CheckoutReport(
        held=5,  # A, B, C, D, E (F and G were held in February)
        points_held=4_900,
        captured=3,  # A, B and F
        released=2,  # C and G
        timed_out=1,  # D
        capture_rate=Decimal("0.5000"),  # 3 of the 6 settled
        points_captured=4_500,
        value_captured=[kpis.CheckoutValue("CNY", 4_500, Decimal("45.00"))],
        refunds=1,  # A's half refund; B's came in April, the plain order's returned no points
        points_returned=500,
        net_points=4_000,
    )


async def test_a_tier_and_an_empty_period(brand: Brand) -> None:
    async with brand.sessions() as session:
        silver = await kpis.checkout_report(session, Period(MARCH.start, MARCH.end, "silver"))
        april = await kpis.checkout_report(session, Period(date(2026, 4, 1), date(2026, 4, 30)))
        january = await kpis.checkout_report(session, Period(date(2026, 1, 1), date(2026, 1, 31)))
    assert (silver.held, silver.captured, silver.points_captured, silver.value_captured) == (
        0,
        1,
        1_500,
        [kpis.CheckoutValue("CNY", 1_500, Decimal("15.00"))],
    )
    assert (silver.refunds, silver.points_returned, silver.net_points) == (0, 0, 1_500)
    assert (april.held, april.captured, april.refunds, april.points_returned, april.net_points) == (
        0,
        0,
        1,
        2_000,
        -2_000,
    )
    assert january == kpis.CheckoutReport(0, 0, 0, 0, 0, None, 0, [], 0, 0, 0)


@pytest_asyncio.fixture(scope="module")
async def app(brand: Brand, base_settings: Settings, temporal_dev: Any) -> AsyncIterator[FastAPI]:
    async with app_on(brand.url, base_settings, temporal_dev.client) as app:
        yield app


async def _key(app: FastAPI, role: Role) -> str:
    return await key_for(app, role, LABEL)


async def test_the_api_answers_the_insight_roles_and_refuses_the_shop(app: FastAPI) -> None:
    march = {"from": "2026-03-01", "to": "2026-03-31"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://memberflow.test") as http:
        for role in (Role.MARKETER, Role.OPS, Role.APPROVER, Role.ADMIN):
            headers = {"Authorization": f"Bearer {await _key(app, role)}"}
            answer = await http.get("/api/v1/kpis/checkouts", params=march, headers=headers)
            assert answer.status_code == 200, (role, answer.text)
            assert answer.json() == {
                "held": 5,
                "points_held": 4_900,
                "captured": 3,
                "released": 2,
                "timed_out": 1,
                "capture_rate": "0.5000",
                "points_captured": 4_500,
                "value_captured": [{"currency": "CNY", "points": 4_500, "value": "45.00"}],
                "refunds": 1,
                "points_returned": 500,
                "net_points": 4_000,
            }
        silver = await http.get("/api/v1/kpis/checkouts", params={**march, "tier": "silver"}, headers=headers)
        assert silver.json()["points_captured"] == 1_500
        shop = {"Authorization": f"Bearer {await _key(app, Role.INTEGRATION)}"}
        assert_error(await http.get("/api/v1/kpis/checkouts", headers=shop), 403, "insufficient_role")
        backwards = await http.get(
            "/api/v1/kpis/checkouts", params={"from": "2026-03-31", "to": "2026-03-01"}, headers=headers
        )
        assert_error(backwards, 422, "invalid_period")
        assert_error(await http.get("/api/v1/kpis/checkouts", params={"from": "March"}, headers=headers), 422)


async def test_the_dashboard_draws_the_checkout_tile(app: FastAPI) -> None:
    async with console_client(app) as client:
        await sign_in(client, await _key(app, Role.MARKETER))
        page = await client.get("/console", params={"from": "2026-03-01", "to": "2026-03-31"})
        assert page.status_code == 200, page.text
        tile = page.text.split('data-chart="checkouts"', 1)[1].split("</figure>", 1)[0]
        assert "Points at checkout: 4,500 points captured (45.00 CNY), 500 returned by refunds" in tile
        assert 'aria-label="Checkouts paying with points"' in tile
        for label in ("held", "captured", "released", "timed out"):
            assert f">{label}<" in tile, label
