"""Voice of the customer against a brand of its own in a database of its own, so every figure is known: the ticket
KPIs (SLA attainment, response and resolution times, per category, priority and week), the most frequent terms in
English and Chinese, the negative-word flags, the API's answers and roles, and the console's pages."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.settings import Settings
from devstack.embedded import EmbeddedPostgres
from services.analytics import kpis, voice
from services.analytics.kpis import Period
from services.platform.api_keys import Role
from tests.support.brand import joined_member, scratch_database
from tests.support.brand_app import app_on, key_for
from tests.support.console import console_client, sign_in
from tests.support.helpers import assert_error
from tests.support.voice import seeded_queue, seeded_reply, seeded_ticket

Sessions = async_sessionmaker[AsyncSession]
# Two weeks of March 2026 (Mondays 2 and 9 March), judged on 20 March.
MARCH = Period(date(2026, 3, 2), date(2026, 3, 15))
NOW = datetime(2026, 3, 20, 12, tzinfo=UTC)
H = timedelta(hours=1)


def _at(day: int, hour: int = 10) -> datetime:
    return datetime(2026, 3, day, hour, tzinfo=UTC)


@dataclass(frozen=True)
class Brand:
    url: str
    sessions: Sessions
    tickets: dict[str, uuid.UUID]


@pytest_asyncio.fixture(scope="module")
async def brand(postgres: EmbeddedPostgres) -> AsyncIterator[Brand]:
    """Five tickets in the period (SLA 4 h to first response, 24 h to resolution unless said):
    t1 billing/high: answered after 1 h, closed after 10 h (both met);
    t2 billing/normal: answered after 5 h, closed after 30 h (both missed);
    t3 delivery/urgent: answered after 2 h (met), still open past its resolution deadline (missed);
    t4 delivery/normal: never answered, open: both deadlines passed (both missed);
    t5 delivery/low: SLAs of 10 and 20 days, not yet due (pending);
    and t6 opened the day after the period, beside an erased member's ticket. t3 has a member reply and a staff
    reply."""
    db = await scratch_database(postgres, "vc")
    async with db.sessions() as session:
        member = await joined_member(session, date(2026, 1, 5), label="vc")
        queue = await seeded_queue(session, "vc")

        async def ticket(day: int, category: str, priority: str, subject: str, description: str, **kw: Any) -> Any:
            return await seeded_ticket(
                session,
                member_id=member,
                queue_id=queue,
                opened_at=_at(day),
                category=category,
                priority=priority,
                subject=subject,
                description=description,
                **kw,
            )

        ids = {
            "t1": await ticket(
                2,
                "billing",
                "high",
                "Refund for double charge",
                "The app charged my card twice. Please refund the double charge.",
                responded_after=1 * H,
                closed_after=10 * H,
            ),
            "t2": await ticket(
                3,
                "billing",
                "normal",
                "积分没有到账",
                "上周的订单积分没有到账，客服态度差，很失望",
                responded_after=5 * H,
                closed_after=30 * H,
            ),
            "t3": await ticket(
                9,
                "delivery",
                "urgent",
                "Parcel arrived damaged",
                "The parcel arrived damaged and the box was wet.",
                responded_after=2 * H,
            ),
            "t4": await ticket(10, "delivery", "normal", "快递太慢", "快递三天还没到，包装也破了"),
            "t5": await ticket(
                15,
                "delivery",
                "low",
                "Where is my parcel",
                "Tracking shows nothing for my parcel.",
                response_sla=240 * H,
                resolution_sla=480 * H,
            ),
            "t6": await ticket(16, "delivery", "normal", "Terrible wait", "Outside the period: never counted."),
        }
        await seeded_reply(
            session, ids["t3"], "Still waiting for a replacement parcel, this is the worst service.", _at(11, 9)
        )
        # An erased member's ticket the day after the period: erasure wrote "[erased]" over its texts.
        erased = await joined_member(session, date(2026, 1, 6), label="vc")
        await session.execute(text("UPDATE members SET erased_at = :at WHERE id = :id"), {"at": NOW, "id": erased})
        await seeded_ticket(
            session,
            member_id=erased,
            queue_id=queue,
            opened_at=_at(16, 11),
            category="delivery",
            priority="normal",
            subject="[erased]",
            description="[erased]",
        )
        staff_reply = "Sorry, a terrible mistake on our side."
        await seeded_reply(session, ids["t3"], staff_reply, _at(11, 10), author_type="staff")
        await session.commit()
    yield Brand(db.url, db.sessions, ids)
    await db.engine.dispose()


def _group(key: str, tickets: int, resolved: int, response: str | None, resolution: str | None) -> kpis.SlaGroup:
    return kpis.SlaGroup(
        key, tickets, resolved, Decimal(response) if response else None, Decimal(resolution) if resolution else None
    )


async def test_sla_attainment_and_times_per_category_priority_and_week(brand: Brand) -> None:
    async with brand.sessions() as session:
        report = await kpis.care(session, MARCH, now=NOW)
        silver = await kpis.care(session, Period(MARCH.start, MARCH.end, "silver"), now=NOW)
    assert report == kpis.CareReport(
        tickets=5,
        resolved=2,
        first_response_met=2,
        first_response_decided=4,
        first_response_attainment=Decimal("0.5000"),
        resolution_met=1,
        resolution_decided=4,
        resolution_attainment=Decimal("0.2500"),
        # answered after 1, 2 and 5 hours: median 2 h; p90 interpolated 2 h + 0.8 × 3 h = 4 h 24 m.
        first_response=kpis.Durations(7200, 15840),
        # closed after 10 and 30 hours: median 20 h; p90 10 h + 0.9 × 20 h = 28 h.
        resolution=kpis.Durations(72000, 100800),
        by_category=[_group("delivery", 3, 0, "0.5000", "0.0000"), _group("billing", 2, 2, "0.5000", "0.5000")],
        by_priority=[
            _group("normal", 2, 1, "0.0000", "0.0000"),
            _group("high", 1, 1, "1.0000", "1.0000"),
            _group("low", 1, 0, None, None),
            _group("urgent", 1, 0, "1.0000", "0.0000"),
        ],
        by_week=[_group("2026-03-02", 2, 2, "0.5000", "0.5000"), _group("2026-03-09", 3, 0, "0.5000", "0.0000")],
    )
    assert (silver.tickets, silver.first_response_attainment, silver.first_response) == (
        0,
        None,
        kpis.Durations(None, None),
    )
    assert [w.key for w in silver.by_week] == ["2026-03-02", "2026-03-09"]


async def test_a_ticket_inside_its_deadline_is_pending_until_the_deadline_passes(brand: Brand) -> None:
    # At noon on 10 March t4 (opened at 10:00) is inside both its targets, so it counts in neither share, while
    # t3 (opened 9 March at 10:00, still open) has just missed its 24-hour resolution target.
    async with brand.sessions() as session:
        early = await kpis.care(session, MARCH, now=_at(10, 12))
    assert (early.first_response_met, early.first_response_decided) == (2, 3)
    assert (early.resolution_met, early.resolution_decided) == (1, 3)


async def test_terms_per_category_in_english_and_chinese(brand: Brand) -> None:
    async with brand.sessions() as session:
        report = (await voice.voice(session, MARCH)).terms
    assert (report.since, report.until, report.texts, report.truncated) == (
        MARCH.since,
        MARCH.until,
        6,
        False,
    )
    found = {(c.category, c.language): (c.texts, [(t.term, t.count) for t in c.terms]) for c in report.categories}
    assert list(found) == [("billing", "en"), ("billing", "zh"), ("delivery", "en"), ("delivery", "zh")]
    assert found[("billing", "en")] == (
        1,
        [("charge", 2), ("double", 2), ("refund", 2), ("app", 1), ("card", 1), ("charged", 1), ("twice", 1)],
    )
    assert found[("billing", "zh")] == (
        1,
        [("积分", 2), ("上周", 1), ("失望", 1), ("客服", 1), ("态度", 1), ("订单", 1)],
    )
    # parcel: twice in t3, twice in t5, once in the member's reply; the staff reply is not the member's voice.
    assert found[("delivery", "en")] == (
        3,
        [
            ("parcel", 5),
            ("arrived", 2),
            ("damaged", 2),
            ("box", 1),
            ("nothing", 1),
            ("replacement", 1),
            ("service", 1),
            ("shows", 1),
            ("tracking", 1),
            ("waiting", 1),
        ],
    )
    assert found[("delivery", "zh")] == (1, [("快递", 2), ("三天", 1), ("包装", 1), ("太慢", 1)])


async def test_the_window_is_bounded_in_days_and_texts(brand: Brand) -> None:
    async with brand.sessions() as session:
        # The last 5 days of the period (from 11 March): t5 and the member's reply on t3.
        recent = (await voice.voice(session, MARCH, window=voice.Window.of(MARCH, days=5))).terms
        two = await voice.voice(session, MARCH, window=voice.Window(MARCH.since, MARCH.until, 2))
    assert (recent.since, recent.texts) == (datetime(2026, 3, 11, tzinfo=UTC), 2)
    assert (two.terms.texts, two.terms.truncated) == (2, True)
    assert [(f.source, f.ticket_id) for f in two.flagged] == [("reply", str(brand.tickets["t3"]))]


async def test_an_erased_members_texts_are_not_read_but_their_ticket_counts(brand: Brand) -> None:
    day = Period(date(2026, 3, 16), date(2026, 3, 16))
    async with brand.sessions() as session:
        heard = await voice.voice(session, day)
        counted = await kpis.care(session, day, now=NOW)
    assert heard.terms.texts == 1
    assert [[t.term for t in c.terms] for c in heard.terms.categories] == [
        ["counted", "never", "outside", "period", "terrible", "wait"]
    ]
    assert [(f.ticket_id, f.words) for f in heard.flagged] == [(str(brand.tickets["t6"]), ["terrible"])]
    assert counted.tickets == 2


async def test_texts_with_negative_words_are_flagged_newest_first(brand: Brand) -> None:
    async with brand.sessions() as session:
        report = await voice.voice(session, MARCH)
    ids = brand.tickets
    assert [(f.source, f.ticket_id, f.words) for f in report.flagged] == [
        ("reply", str(ids["t3"]), ["worst"]),
        ("ticket", str(ids["t4"]), ["太慢"]),
        ("ticket", str(ids["t3"]), ["damaged"]),
        ("ticket", str(ids["t2"]), ["失望", "态度差"]),
        ("ticket", str(ids["t1"]), ["refund"]),
    ]
    assert report.flagged_total == 5
    assert report.flagged[0].excerpt == "Still waiting for a replacement parcel, this is the worst service."
    assert (report.flagged[0].category, report.flagged[0].status) == ("delivery", "open")


@pytest_asyncio.fixture(scope="module")
async def app(brand: Brand, base_settings: Settings, temporal_dev: Any) -> AsyncIterator[FastAPI]:
    async with app_on(brand.url, base_settings, temporal_dev.client) as app:
        yield app


async def _key(app: FastAPI, role: Role) -> str:
    return await key_for(app, role, "vc")


async def test_the_api_answers_the_insight_roles_with_the_figures(app: FastAPI) -> None:
    march = {"from": "2026-03-02", "to": "2026-03-15"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://memberflow.test") as http:
        for role in (Role.MARKETER, Role.OPS, Role.APPROVER, Role.ADMIN):
            headers = {"Authorization": f"Bearer {await _key(app, role)}"}
            care = await http.get("/api/v1/kpis/care", params=march, headers=headers)
            assert care.status_code == 200, (role, care.text)
            body = care.json()
            # Judged now (after March 2026): t5's deadlines have passed too.
            assert (body["tickets"], body["first_response_decided"], body["first_response_attainment"]) == (
                5,
                5,
                "0.4000",
            )
            assert body["first_response"] == {"median_seconds": 7200, "p90_seconds": 15840}
            assert [g["key"] for g in body["by_category"]] == ["delivery", "billing"]
            terms = await http.get("/api/v1/kpis/care/terms", params={**march, "limit": 1}, headers=headers)
            assert terms.status_code == 200, terms.text
            assert [(c["category"], c["language"], c["terms"]) for c in terms.json()["categories"]] == [
                ("billing", "en", [{"term": "charge", "count": 2}]),
                ("billing", "zh", [{"term": "积分", "count": 2}]),
                ("delivery", "en", [{"term": "parcel", "count": 5}]),
                ("delivery", "zh", [{"term": "快递", "count": 2}]),
            ]
            assert "flagged" not in terms.json()
        shop = {"Authorization": f"Bearer {await _key(app, Role.INTEGRATION)}"}
        assert_error(await http.get("/api/v1/kpis/care", headers=shop), 403, "insufficient_role")
        assert_error(await http.get("/api/v1/kpis/care/terms", headers=shop), 403, "insufficient_role")
        ops = {"Authorization": f"Bearer {await _key(app, Role.OPS)}"}
        backwards = await http.get("/api/v1/kpis/care", params={"from": "2026-03-15", "to": "2026-03-01"}, headers=ops)
        assert_error(backwards, 422, "invalid_period")
        assert_error(await http.get("/api/v1/kpis/care/terms", params={"limit": 0}, headers=ops), 422)
        assert_error(await http.get("/api/v1/kpis/care/terms", params={"limit": 51}, headers=ops), 422)


async def test_the_dashboard_draws_the_section_and_ops_follow_up_the_flags(app: FastAPI, brand: Brand) -> None:
    march = {"from": "2026-03-02", "to": "2026-03-15"}
    async with console_client(app) as client:
        await sign_in(client, await _key(app, Role.OPS))
        page = await client.get("/console", params=march)
        assert page.status_code == 200, page.text
        html = page.text
        assert 'id="voice"' in html
        for chart in ("care-weekly", "care-sla-weekly", "care-categories", "care-priorities", "terms-delivery-zh"):
            assert f'data-chart="{chart}"' in html, chart
        assert "2h 00m / 4h 24m" in html  # first response median / p90
        assert "20h 00m / 1d 4h" in html  # resolution median / p90
        assert 'href="/console/tickets/follow-up?to=2026-03-15"' in html
        assert 'data-kpi="flagged"><span>Flagged for follow-up</span><b>5</b>' in html
        assert "快递" in html
        assert "parcel" in html

        follow = await client.get("/console/tickets/follow-up", params={"to": "2026-03-15"})
        assert follow.status_code == 200, follow.text
        rows = re.findall(r'<li class="card" data-ticket="([^"]+)" data-source="([a-z]+)">', follow.text)
        ids = brand.tickets
        assert rows == [
            (str(ids["t3"]), "reply"),
            (str(ids["t4"]), "ticket"),
            (str(ids["t3"]), "ticket"),
            (str(ids["t2"]), "ticket"),
            (str(ids["t1"]), "ticket"),
        ]
        assert f'href="/console/tickets/{ids["t2"]}"' in follow.text
        assert "上周的订单积分没有到账，客服态度差，很失望" in follow.text
        assert "terrible mistake" not in follow.text  # staff replies are not flagged
        bad_date = await client.get("/console/tickets/follow-up", params={"to": "15 March"})
        assert bad_date.status_code == 200
        assert "the date is not valid" in bad_date.text
    async with console_client(app) as client:
        await sign_in(client, await _key(app, Role.MARKETER))
        page = await client.get("/console", params=march)
        assert page.status_code == 200
        assert 'id="voice"' in page.text
        assert "/console/tickets/follow-up" not in page.text  # marketers do not work tickets
        assert (await client.get("/console/tickets/follow-up")).status_code == 403
