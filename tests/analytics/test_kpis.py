"""KPIs against a small brand whose every figure is known: a database of its own, so aggregates over all
members are exact, filled through the services (members, orders, refunds, the ledger)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.app import create_app
from core.settings import Settings
from devstack.embedded import EmbeddedPostgres
from services.analytics import kpis
from services.analytics.kpis import Period
from services.intake import orders
from services.intake.orders import RefundCreate
from services.loyalty import tiers
from services.platform import api_keys
from services.platform.api_keys import Role
from tests.support.brand import (
    at,
    coupon_template,
    issued_coupon,
    joined_member,
    placed_order,
    recorded_message,
    scratch_database,
)
from tests.support.helpers import ApiClient, assert_error
from tests.support.journey_runs import record_run

JUNE, JULY = Period(date(2026, 6, 1), date(2026, 7, 31)), Period(date(2026, 7, 1), date(2026, 7, 31))
Sessions = async_sessionmaker[AsyncSession]
Brand = tuple[Sessions, str, dict[str, Any]]


async def _member(session: AsyncSession, joined: date) -> uuid.UUID:
    return await joined_member(session, joined, label="kpi")


async def _order(session: AsyncSession, member_id: uuid.UUID, day: date, amount: str) -> uuid.UUID:
    return await placed_order(session, member_id, day, amount, label="kpi")


@pytest_asyncio.fixture(scope="module")
async def brand(postgres: EmbeddedPostgres) -> AsyncIterator[Brand]:
    """Four members. A joins 3 June, buys 600 on 5 June and 600 on 10 July (silver); B joins 20 June, buys 100
    on 21 June, 40 of it refunded; C joins 5 July, buys 6,000 on 6 July (gold); D joins 10 July, never buys.
    Their coupons, journey runs and messages are in `_programme`. `ids["seeded_on"]` is the UTC day the ledger
    entries were written on (they carry the time of writing), read before writing, never at import."""
    db = await scratch_database(postgres, "kpi")
    sessions, url = db.sessions, db.url
    seeded_on = datetime.now(UTC).date()
    async with sessions() as session:
        await tiers.ladder(session)  # the default ladder exists after migration
        ids = {
            "a": await _member(session, date(2026, 6, 3)),
            "b": await _member(session, date(2026, 6, 20)),
            "c": await _member(session, date(2026, 7, 5)),
            "d": await _member(session, date(2026, 7, 10)),
        }
        await _order(session, ids["a"], date(2026, 6, 5), "600.00")
        refunded = await _order(session, ids["b"], date(2026, 6, 21), "100.00")
        await _order(session, ids["a"], date(2026, 7, 10), "600.00")
        await _order(session, ids["c"], date(2026, 7, 6), "6000.00")
        await orders.refund(session, refunded, RefundCreate(external_id="r-1", amount=Decimal("40.00")))
        await _programme(session, ids)
        await session.commit()
    try:
        yield sessions, url, {**ids, "seeded_on": seeded_on}
    finally:
        await db.engine.dispose()


async def _programme(session: AsyncSession, ids: dict[str, uuid.UUID]) -> None:
    """Coupons: kpi_welcome to A (5 June, redeemed 6 June), B (21 June) and C (6 July, redeemed 8 July);
    kpi_birthday to D (11 July); one more to A on 20 May, before the period. Journeys: welcome for each member
    on the day they joined (A completed, B and D still at story_delay, C exited), win_back for B on 25 June
    (at miss_you); A, B and C each ordered within 7 days of their welcome. Messages: welcome emails sent to A
    and B, suppressed for C (no_consent) and D (unsubscribed), an SMS to B that failed (22 June), and an SMS to
    A on 30 May, before the period."""
    welcome, birthday = await coupon_template(session, "kpi_welcome"), await coupon_template(session, "kpi_birthday")
    await issued_coupon(session, welcome, ids["a"], date(2026, 6, 5), redeemed=date(2026, 6, 6))
    await issued_coupon(session, welcome, ids["b"], date(2026, 6, 21))
    await issued_coupon(session, welcome, ids["c"], date(2026, 7, 6), redeemed=date(2026, 7, 8))
    await issued_coupon(session, birthday, ids["d"], date(2026, 7, 11))
    await issued_coupon(session, welcome, ids["a"], date(2026, 5, 20))
    path = ["welcome_message", "story_delay"]
    for member, joined, ending in (("a", 3, "completed"), ("b", 20, None), ("c", 35, "exited"), ("d", 40, None)):
        start = at(date(2026, 6, 1)) + timedelta(days=joined - 1)
        await record_run(session, "welcome", path, ending=ending, member_id=ids[member], start=start)
    await record_run(session, "win_back", ["high_value", "miss_you"], member_id=ids["b"], start=at(date(2026, 6, 25)))
    for member, day, channel, status, reason in (
        ("a", date(2026, 6, 3), "email", "sent", None),
        ("b", date(2026, 6, 20), "email", "sent", None),
        ("c", date(2026, 7, 5), "email", "suppressed", "no_consent"),
        ("d", date(2026, 7, 10), "email", "suppressed", "unsubscribed"),
        ("b", date(2026, 6, 22), "sms", "failed", "provider refused"),
        ("a", date(2026, 5, 30), "sms", "sent", None),
    ):
        await recorded_message(session, ids[member], day, channel, status, reason)


async def test_purchases_count_net_revenue_and_repeat_buyers(brand: Brand) -> None:
    sessions, _, _ = brand
    async with sessions() as session:
        report = await kpis.purchases(session, JUNE)
        july = await kpis.purchases(session, JULY)
    assert (report.orders, report.revenue, report.buyers, report.repeat_buyers) == (4, Decimal("7260.00"), 3, 1)
    assert report.repeat_purchase_rate == Decimal("0.3333")
    assert report.average_order_value == Decimal("1815.00")
    assert report.purchase_frequency == Decimal("1.33")
    assert (july.orders, july.revenue, july.repeat_buyers) == (2, Decimal("6600.00"), 0)


async def test_tiers_members_and_clv(brand: Brand) -> None:
    sessions, _, _ = brand
    async with sessions() as session:
        tier_report = await kpis.tiers(session, JUNE)
        activity = await kpis.member_activity(session, JUNE)
        value = await kpis.clv(session, JUNE)
        gold_only = await kpis.purchases(session, Period(JUNE.start, JUNE.end, "gold"))
    assert [(t.tier, t.members) for t in tier_report.distribution] == [("member", 2), ("silver", 1), ("gold", 1)]
    assert sorted((m.from_tier, m.to_tier, m.members) for m in tier_report.movement) == [
        ("member", "gold", 1),
        ("member", "silver", 1),
    ]
    assert (activity.total, activity.new, activity.active_30d, activity.active_90d) == (4, 4, 2, 3)
    assert (value.members, value.clv) == (4, Decimal("1815.00"))
    assert [(t.tier, t.members, t.clv) for t in value.by_tier] == [
        ("member", 2, Decimal("30.00")),
        ("silver", 1, Decimal("1200.00")),
        ("gold", 1, Decimal("6000.00")),
    ]
    assert (gold_only.orders, gold_only.revenue) == (1, Decimal("6000.00"))


async def test_cohort_retention_and_churn(brand: Brand) -> None:
    sessions, _, _ = brand
    async with sessions() as session:
        report = await kpis.retention(session, JUNE)
    assert [(c.month, c.members, c.retention) for c in report.cohorts] == [
        ("2026-06", 2, [Decimal("1.0000"), Decimal("0.5000")]),
        ("2026-07", 2, [Decimal("0.5000")]),
    ]
    # Bought in June: A and B; of them only A bought in July.
    assert [(m.month, m.active_before, m.retained, m.churn_rate) for m in report.churn] == [
        ("2026-07", 2, 1, Decimal("0.5000"))
    ]


async def test_points_liability_is_valued_at_the_configured_rate(brand: Brand) -> None:
    sessions, _, _ = brand
    recent = _since_seeding(brand)  # ledger entries carry the time they were written
    async with sessions() as session:
        report = await kpis.points(session, recent, point_value=Decimal("0.05"), currency="CNY")
        june = await kpis.points(session, JUNE, point_value=Decimal("0.05"), currency="CNY")
    # Earned 600 + 100 + 600 + 6,000 at the member multiplier; 40 clawed back by the refund.
    assert (report.issued, report.redeemed, report.expired, report.outstanding) == (7260, 0, 0, 7260)
    assert report.liability == Decimal("363.00")
    assert report.redemption_rate == Decimal("0.0000")
    assert (june.issued, june.outstanding) == (0, 7260)


# What the API answers for June and July, as JSON: the same figures the service-level tests check above, with
# the points liability valued at the default 0.01 per point (7,260 outstanding) and no points moved in June.
API_FIGURES: dict[str, Any] = {
    "members": {"total": 4, "new": 4, "active_30d": 2, "active_90d": 3},
    "clv": {
        "members": 4,
        "clv": "1815.00",
        "by_tier": [
            {"tier": "member", "members": 2, "clv": "30.00", "orders_per_member": "0.50"},
            {"tier": "silver", "members": 1, "clv": "1200.00", "orders_per_member": "2.00"},
            {"tier": "gold", "members": 1, "clv": "6000.00", "orders_per_member": "1.00"},
        ],
    },
    "retention": {
        "cohorts": [
            {"month": "2026-06", "members": 2, "retention": ["1.0000", "0.5000"]},
            {"month": "2026-07", "members": 2, "retention": ["0.5000"]},
        ],
        "churn": [{"month": "2026-07", "active_before": 2, "retained": 1, "churn_rate": "0.5000"}],
    },
    "points": {
        "issued": 0,
        "redeemed": 0,
        "expired": 0,
        "adjusted": 0,
        "outstanding": 7260,
        "held": 0,
        "liability": "72.60",
        "currency": "CNY",
        "redemption_rate": None,
    },
    "coupons": [
        {"template": "kpi_welcome", "issued": 3, "redeemed": 2, "redeem_rate": "0.6667"},
        {"template": "kpi_birthday", "issued": 1, "redeemed": 0, "redeem_rate": "0.0000"},
    ],
    "journeys": [
        {
            "kind": "welcome",
            "runs": 4,
            "by_status": {"completed": 1, "exited": 1, "running": 2},
            "by_step": {"story_delay": 2},
            "converted": 3,
            "conversion_rate": "0.7500",
        },
        {
            "kind": "win_back",
            "runs": 1,
            "by_status": {"running": 1},
            "by_step": {"miss_you": 1},
            "converted": 0,
            "conversion_rate": "0.0000",
        },
    ],
    "messages": [
        {
            "channel": "email",
            "by_status": {"sent": 2, "suppressed": 2},
            "suppressed_by_reason": {"no_consent": 1, "unsubscribed": 1},
        },
        {"channel": "sms", "by_status": {"failed": 1}, "suppressed_by_reason": {}},
    ],
}


def _since_seeding(brand: Brand) -> Period:
    """From the day the brand's ledger entries were written to today, both read at run time: a run that
    crosses midnight UTC still covers them."""
    return Period(brand[2]["seeded_on"], datetime.now(UTC).date())


async def test_coupons_journeys_and_messages_count_only_the_period(brand: Brand) -> None:
    sessions, _, _ = brand
    async with sessions() as session:
        coupon_stats = await kpis.coupons(session, JUNE)
        journey_stats = await kpis.journeys(session, JUNE, attribution_days=7)
        message_stats = await kpis.messages(session, JUNE)
        gold_coupons = await kpis.coupons(session, Period(JUNE.start, JUNE.end, "gold"))
        may = await kpis.coupons(session, Period(date(2026, 5, 1), date(2026, 5, 31)))
    assert coupon_stats == [
        kpis.CouponStat("kpi_welcome", 3, 2, Decimal("0.6667")),
        kpis.CouponStat("kpi_birthday", 1, 0, Decimal("0.0000")),
    ]
    assert gold_coupons == [kpis.CouponStat("kpi_welcome", 1, 1, Decimal("1.0000"))]
    assert may == [kpis.CouponStat("kpi_welcome", 1, 0, Decimal("0.0000"))]
    assert journey_stats == [
        kpis.JourneyStat(
            "welcome", 4, {"completed": 1, "running": 2, "exited": 1}, {"story_delay": 2}, 3, Decimal("0.7500")
        ),
        kpis.JourneyStat("win_back", 1, {"running": 1}, {"miss_you": 1}, 0, Decimal("0.0000")),
    ]
    assert message_stats == [
        kpis.ChannelStat("email", {"sent": 2, "suppressed": 2}, {"no_consent": 1, "unsubscribed": 1}),
        kpis.ChannelStat("sms", {"failed": 1}, {}),
    ]


async def test_the_api_checks_periods_and_roles(brand: Brand, base_settings: Settings, temporal_dev: Any) -> None:
    _, url, _ = brand
    settings = base_settings.model_copy(update={"database_url": url})
    app = create_app(settings, temporal_client=temporal_dev.client)
    async with app.router.lifespan_context(app):
        async with app.state.sessions() as session:
            marketer = (await api_keys.create(session, name="kpi-marketer", role=Role.MARKETER)).secret
            shop = (await api_keys.create(session, name="kpi-shop", role=Role.INTEGRATION)).secret
            await session.commit()
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://memberflow.test") as http:
            as_marketer = {"Authorization": f"Bearer {marketer}"}
            response = await http.get(
                "/api/v1/kpis/purchases", params={"from": "2026-06-01", "to": "2026-07-31"}, headers=as_marketer
            )
            assert response.status_code == 200, response.text
            assert response.json()["revenue"] == "7260.00"
            tiers_body = (await http.get("/api/v1/kpis/tiers", headers=as_marketer)).json()
            assert [t["members"] for t in tiers_body["distribution"]] == [2, 1, 1]
            june = {"from": "2026-06-01", "to": "2026-07-31"}
            for name, expected in API_FIGURES.items():
                response = await http.get(f"/api/v1/kpis/{name}", params=june, headers=as_marketer)
                assert response.status_code == 200, response.text
                assert response.json() == expected, name
            recent = _since_seeding(brand)
            since = {"from": recent.start.isoformat(), "to": recent.end.isoformat()}
            points = (await http.get("/api/v1/kpis/points", params=since, headers=as_marketer)).json()
            assert (points["issued"], points["outstanding"], points["redemption_rate"]) == (7260, 7260, "0.0000")
            backwards = await http.get(
                "/api/v1/kpis/purchases", params={"from": "2026-07-01", "to": "2026-06-01"}, headers=as_marketer
            )
            assert_error(backwards, 422, "invalid_period")
            assert_error(await http.get("/api/v1/kpis/clv", params={"tier": "Gold!"}, headers=as_marketer), 422)
            assert_error(
                await http.get("/api/v1/kpis/points", headers={"Authorization": f"Bearer {shop}"}),
                403,
                "insufficient_role",
            )


KPI_NAMES = ("tiers", "members", "purchases", "clv", "retention", "points", "coupons", "journeys", "messages")
# Found by the schemathesis run (tests/platform/test_schema_fuzz.py): dates at the ends of the calendar made
# the period's own arithmetic (90 days back, the day after `to`) overflow into a 500.
DATES_OFF_THE_CALENDAR = [
    ({"to": "0001-01-01"}, "query.to"),
    ({"from": "0001-01-01", "to": "0001-01-02"}, "query.from"),
    ({"to": "9999-12-31"}, "query.to"),
    ({"from": "9999-12-30", "to": "9999-12-31"}, "query.from"),
]


async def test_a_period_at_the_ends_of_the_calendar_is_422_not_500(admin: ApiClient) -> None:
    for name in KPI_NAMES:
        for params, field in DATES_OFF_THE_CALENDAR:
            response = await admin.get(f"/api/v1/kpis/{name}", params=params)
            error = assert_error(response, 422, "invalid_period")
            assert field in {d["field"] for d in error["details"]}, (name, params, error)
    earliest = await admin.get("/api/v1/kpis/purchases", params={"from": "1900-01-01", "to": "1900-03-01"})
    assert earliest.status_code == 200, earliest.text
    assert earliest.json()["orders"] == 0
