"""NPS and CSAT against a brand of its own in a database of its own, so every figure is known: overall, per week
and per (current) tier, the survey comments in the terms and the follow-up flags (detractors flagged by their
score alone), what an approver (who may not read comments) gets instead, the API's answers and roles, and the
console's dashboard and follow-up pages."""

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
from services.analytics.kpis import Csat, Nps, Period, SurveyGroup
from services.platform.api_keys import Role
from tests.support.brand import joined_member, scratch_database
from tests.support.brand_app import app_on, key_for
from tests.support.console import console_client, sign_in
from tests.support.helpers import assert_error
from tests.support.voice import seeded_answer, seeded_queue, seeded_survey, seeded_ticket

Sessions = async_sessionmaker[AsyncSession]
# Three weeks of March 2026 (Mondays 2, 9 and 16 March).
MARCH = Period(date(2026, 3, 2), date(2026, 3, 22))
WEEKS = ["2026-03-02", "2026-03-09", "2026-03-16"]
D = Decimal


def _at(day: int, hour: int = 10) -> datetime:
    return datetime(2026, 3, day, hour, tzinfo=UTC)


@dataclass(frozen=True)
class Brand:
    url: str
    sessions: Sessions
    members: dict[str, uuid.UUID]
    answers: dict[str, uuid.UUID]
    ticket: uuid.UUID


@pytest_asyncio.fixture(scope="module")
async def brand(postgres: EmbeddedPostgres) -> AsyncIterator[Brand]:
    """Members A (tier member), B (silver) and C (gold) answer in the period:
    NPS  week 1: A 10 "Great rewards…", A 9 "积分兑换很方便", B 5 "Delivery was terrible", C 8;
         week 2: A 8, A 7 (blank comment), B 6 "客服态度差，很失望", C 3, C 0 (empty comment), C 7;
         outside: B 10 on 1 March, A 0 on 23 March.
    CSAT week 1: A 5 "Quick and friendly service", B 4; week 2: C 2 and C 1 about a delivery ticket opened in
         February (its first and second closing), A 3.
    A custom survey's answer (no score) in week 3, and a billing ticket opened in week 3 with no negative word."""
    db = await scratch_database(postgres, "nps")
    async with db.sessions() as session:
        members = {name: await joined_member(session, date(2026, 1, 5), label="nps") for name in "ABC"}
        for name, tier in (("B", "silver"), ("C", "gold")):
            await session.execute(
                text("UPDATE members SET tier = :tier WHERE id = :id"), {"tier": tier, "id": members[name]}
            )
        queue = await seeded_queue(session, "nps")
        ticket = await seeded_ticket(
            session,
            member_id=members["C"],
            queue_id=queue,
            opened_at=datetime(2026, 2, 10, 9, tzinfo=UTC),
            category="delivery",
            priority="normal",
            subject="Late parcel",
            description="Read only in February's window.",
            closed_after=timedelta(days=2),
        )
        await seeded_ticket(
            session,
            member_id=members["A"],
            queue_id=queue,
            opened_at=_at(20),
            category="billing",
            priority="normal",
            subject="Charged twice",
            description="My card was charged twice.",
        )
        nps, csat, custom = [await seeded_survey(session, kind, "nps") for kind in ("nps", "csat", "custom")]

        async def answer(survey: uuid.UUID, who: str, score: int | None, at: datetime, **kw: Any) -> uuid.UUID:
            return await seeded_answer(session, survey_id=survey, member_id=members[who], score=score, at=at, **kw)

        answers = {
            "n1": await answer(nps, "A", 10, _at(2), comment="Great rewards, love the rewards app"),
            "n2": await answer(nps, "A", 9, _at(3), comment="积分兑换很方便"),
            "n3": await answer(nps, "B", 5, _at(4), comment="Delivery was terrible"),
            "n4": await answer(nps, "C", 8, _at(5)),
            "n5": await answer(nps, "A", 8, _at(9)),
            "n6": await answer(nps, "A", 7, _at(10), comment="   "),
            "n7": await answer(nps, "B", 6, _at(11), comment="客服态度差，很失望"),
            "n8": await answer(nps, "C", 3, _at(12)),
            "n9": await answer(nps, "C", 0, _at(13), comment=""),
            "n10": await answer(nps, "C", 7, _at(14)),
            "before": await answer(nps, "B", 10, datetime(2026, 3, 1, 23, tzinfo=UTC)),
            "after": await answer(nps, "A", 0, _at(23), comment="Outside the period: terrible"),
            "c1": await answer(csat, "A", 5, _at(3, 12), comment="Quick and friendly service"),
            "c2": await answer(csat, "B", 4, _at(6, 12)),
            "c3": await answer(csat, "C", 2, _at(10, 12), comment="Parcel arrived damaged", ticket_id=ticket),
            "c4": await answer(csat, "C", 1, _at(12, 12), comment="退款太慢了", ticket_id=ticket, closing=2),
            "c5": await answer(csat, "A", 3, _at(15, 12)),
            "u1": await answer(custom, "B", None, _at(16, 12), comment="Rewards are useless"),
        }
        await session.commit()
    yield Brand(db.url, db.sessions, members, answers, ticket)
    await db.engine.dispose()


def _nps(answers: int, promoters: int, passives: int, detractors: int, score: str | None) -> Nps:
    return Nps(answers, promoters, passives, detractors, None if score is None else D(score))


def _csat(answers: int, satisfied: int, score: str | None) -> Csat:
    return Csat(answers, satisfied, None if score is None else D(score))


async def test_nps_and_csat_overall_per_week_and_per_tier(brand: Brand) -> None:
    async with brand.sessions() as session:
        report = await kpis.surveys(session, MARCH)
    assert report == kpis.SurveyReport(
        # 2 promoters and 4 detractors of 10 NPS answers: 20 % − 40 %.
        nps=_nps(10, 2, 4, 4, "-20.0"),
        csat=_csat(5, 2, "0.4000"),
        by_week=[
            SurveyGroup(WEEKS[0], _nps(4, 2, 1, 1, "25.0"), _csat(2, 2, "1.0000")),
            SurveyGroup(WEEKS[1], _nps(6, 0, 3, 3, "-50.0"), _csat(3, 0, "0.0000")),
            SurveyGroup(WEEKS[2], _nps(0, 0, 0, 0, None), _csat(0, 0, None)),
        ],
        by_tier=[
            SurveyGroup("member", _nps(4, 2, 2, 0, "50.0"), _csat(2, 1, "0.5000")),
            SurveyGroup("silver", _nps(2, 0, 0, 2, "-100.0"), _csat(1, 1, "1.0000")),
            SurveyGroup("gold", _nps(4, 0, 2, 2, "-50.0"), _csat(2, 0, "0.0000")),
        ],
    )


async def test_one_tier_counts_by_the_members_tier_now(brand: Brand) -> None:
    async with brand.sessions() as session:
        gold = await kpis.surveys(session, Period(MARCH.start, MARCH.end, "gold"))
        # A moves up to gold: their answers count as gold from now on, whatever tier they answered in.
        await session.execute(text("UPDATE members SET tier = 'gold' WHERE id = :id"), {"id": brand.members["A"]})
        moved = await kpis.surveys(session, Period(MARCH.start, MARCH.end, "gold"))
        await session.rollback()
    assert (gold.nps, gold.csat) == (_nps(4, 0, 2, 2, "-50.0"), _csat(2, 0, "0.0000"))
    # Week 2's gold answers are 3, 0 and 7: two detractors of three, rounded to a tenth of a point.
    assert [(w.key, w.nps) for w in gold.by_week] == [
        (WEEKS[0], _nps(1, 0, 1, 0, "0.0")),
        (WEEKS[1], _nps(3, 0, 1, 2, "-66.7")),
        (WEEKS[2], _nps(0, 0, 0, 0, None)),
    ]
    assert [t.key for t in gold.by_tier] == ["gold"]
    assert (moved.nps, moved.csat) == (_nps(8, 2, 4, 2, "0.0"), _csat(4, 1, "0.2500"))


def _terms(report: voice.TermsReport) -> dict[tuple[str, str], tuple[int, list[tuple[str, int]]]]:
    return {(c.category, c.language): (c.texts, [(t.term, t.count) for t in c.terms]) for c in report.categories}


async def test_survey_comments_join_the_terms_by_survey_kind_or_ticket_category(brand: Brand) -> None:
    async with brand.sessions() as session:
        report = (await voice.voice(session, MARCH, comments=True)).terms
    # The billing ticket, four NPS comments, the CSAT comment, two about the ticket, the custom survey's one; blank
    # and empty comments are no text.
    assert (report.texts, report.truncated) == (9, False)
    assert _terms(report) == {
        ("billing", "en"): (1, [("charged", 2), ("twice", 2), ("card", 1)]),
        ("csat", "en"): (1, [("friendly", 1), ("quick", 1), ("service", 1)]),
        ("custom", "en"): (1, [("rewards", 1), ("useless", 1)]),
        ("delivery", "en"): (1, [("arrived", 1), ("damaged", 1), ("parcel", 1)]),
        ("delivery", "zh"): (1, [("太慢", 1), ("退款", 1)]),
        ("nps", "en"): (2, [("rewards", 2), ("app", 1), ("delivery", 1), ("great", 1), ("love", 1), ("terrible", 1)]),
        ("nps", "zh"): (2, [("兑换", 1), ("失望", 1), ("客服", 1), ("态度", 1), ("方便", 1), ("积分", 1)]),
    }


async def test_comments_with_negative_words_and_detractors_are_flagged(brand: Brand) -> None:
    async with brand.sessions() as session:
        report = await voice.voice(session, MARCH, comments=True)
    ids = brand.answers
    flagged = [(f.answer.send_id if f.answer else None, f.words, f.detractor) for f in report.flagged]
    assert flagged == [
        (ids["u1"], ["useless"], False),
        (ids["n9"], [], True),  # a detractor's score alone flags
        (ids["c4"], ["退款", "太慢"], False),
        (ids["n8"], [], True),
        (ids["n7"], ["失望", "态度差"], True),
        (ids["c3"], ["damaged"], False),
        (ids["n3"], ["terrible"], True),
    ]
    assert report.flagged_total == 7
    by_answer = {f.answer.send_id: f for f in report.flagged if f.answer}
    # About the ticket: its category and status, and its id to link to; otherwise the survey's kind.
    assert (by_answer[ids["c3"]].ticket_id, by_answer[ids["c3"]].category) == (str(brand.ticket), "delivery")
    assert (by_answer[ids["n3"]].ticket_id, by_answer[ids["n3"]].category) == (None, "nps")
    assert (by_answer[ids["n3"]].status, by_answer[ids["n3"]].excerpt) == ("answered", "Delivery was terrible")
    ref = by_answer[ids["n3"]].answer
    assert ref is not None
    assert (ref.member_id, ref.kind, ref.score, ref.survey.startswith("nps-nps-")) == (
        brand.members["B"],
        "nps",
        5,
        True,
    )


async def test_without_comments_only_ticket_texts_count_and_detractors_flag_by_score(brand: Brand) -> None:
    async with brand.sessions() as session:
        report = await voice.voice(session, MARCH, comments=False)
    assert (report.terms.texts, _terms(report.terms)) == (
        1,
        {("billing", "en"): (1, [("charged", 2), ("twice", 2), ("card", 1)])},
    )
    ids = brand.answers
    assert [(f.answer.send_id if f.answer else None, f.words, f.excerpt) for f in report.flagged] == [
        (ids["n9"], [], ""),
        (ids["n8"], [], ""),
        (ids["n7"], [], ""),
        (ids["n3"], [], ""),
    ]


@pytest_asyncio.fixture(scope="module")
async def app(brand: Brand, base_settings: Settings, temporal_dev: Any) -> AsyncIterator[FastAPI]:
    async with app_on(brand.url, base_settings, temporal_dev.client) as app:
        yield app


async def _key(app: FastAPI, role: Role) -> str:
    return await key_for(app, role, "nps")


async def test_the_api_answers_the_insight_roles_and_hides_comment_terms_from_approvers(app: FastAPI) -> None:
    march = {"from": "2026-03-02", "to": "2026-03-22"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://memberflow.test") as http:
        for role in (Role.MARKETER, Role.OPS, Role.APPROVER, Role.ADMIN):
            headers = {"Authorization": f"Bearer {await _key(app, role)}"}
            answer = await http.get("/api/v1/kpis/surveys", params=march, headers=headers)
            assert answer.status_code == 200, (role, answer.text)
            body = answer.json()
            assert body["nps"] == {"answers": 10, "promoters": 2, "passives": 4, "detractors": 4, "score": "-20.0"}
            assert body["csat"] == {"answers": 5, "satisfied": 2, "score": "0.4000"}
            assert [(w["key"], w["nps"]["score"]) for w in body["by_week"]] == [
                (WEEKS[0], "25.0"),
                (WEEKS[1], "-50.0"),
                (WEEKS[2], None),
            ]
            assert [(t["key"], t["nps"]["score"], t["csat"]["score"]) for t in body["by_tier"]] == [
                ("member", "50.0", "0.5000"),
                ("silver", "-100.0", "1.0000"),
                ("gold", "-50.0", "0.0000"),
            ]
            terms = await http.get("/api/v1/kpis/care/terms", params=march, headers=headers)
            assert terms.status_code == 200, terms.text
            categories = [(c["category"], c["language"]) for c in terms.json()["categories"]]
            if role is Role.APPROVER:
                # No term drawn from a comment, nor a count of them: only the billing ticket's text.
                assert (terms.json()["texts"], categories) == (1, [("billing", "en")])
                for word in ("rewards", "useless", "parcel", "积分", "退款"):
                    assert word not in terms.text
            else:
                assert terms.json()["texts"] == 9
                assert categories == [
                    ("billing", "en"),
                    ("csat", "en"),
                    ("custom", "en"),
                    ("delivery", "en"),
                    ("delivery", "zh"),
                    ("nps", "en"),
                    ("nps", "zh"),
                ]
        shop = {"Authorization": f"Bearer {await _key(app, Role.INTEGRATION)}"}
        assert_error(await http.get("/api/v1/kpis/surveys", headers=shop), 403, "insufficient_role")
        ops = {"Authorization": f"Bearer {await _key(app, Role.OPS)}"}
        backwards = await http.get(
            "/api/v1/kpis/surveys", params={"from": "2026-03-22", "to": "2026-03-01"}, headers=ops
        )
        assert_error(backwards, 422, "invalid_period")
        assert_error(await http.get("/api/v1/kpis/surveys", params={"tier": "Gold!"}, headers=ops), 422)


async def test_the_dashboard_draws_nps_and_csat_and_ops_follow_up_answers(app: FastAPI, brand: Brand) -> None:
    march = {"from": "2026-03-02", "to": "2026-03-22"}
    async with console_client(app) as client:
        await sign_in(client, await _key(app, Role.MARKETER))
        page = await client.get("/console", params=march)
        assert page.status_code == 200, page.text
        html = page.text
        for chart in ("nps-weekly", "nps-tiers", "csat-weekly", "csat-tiers", "terms-nps-zh", "terms-custom-en"):
            assert f'data-chart="{chart}"' in html, chart
        assert (
            'data-kpi="nps"><span>NPS</span><b>-20.0</b><small>10 answers: 2 promoters, 4 passives, 4 detractors'
            in html
        )
        assert 'data-kpi="csat"><span>CSAT (4–5)</span><b>40.0%</b><small>2 of 5 answers' in html
        assert "<title>2026-03-09: -50</title>" in html  # week 2's NPS column
        assert "and survey comments" in html
        assert 'data-kpi="flagged"><span>Flagged for follow-up</span><b>7</b>' in html

    async with console_client(app) as client:
        await sign_in(client, await _key(app, Role.OPS))
        follow = await client.get("/console/tickets/follow-up", params={"to": "2026-03-22"})
        assert follow.status_code == 200, follow.text
        ids = brand.answers
        rows = re.findall(r'data-source="survey" id="answer-([^"]+)"', follow.text)
        assert rows == [str(ids[k]) for k in ("u1", "n9", "c4", "n8", "n7", "c3", "n3")]
        c3 = _item(follow.text, ids["c3"])
        assert f'href="/console/tickets/{brand.ticket}"' in c3
        assert "Parcel arrived damaged" in c3
        n3 = _item(follow.text, ids["n3"])
        assert f'href="/console/members/{brand.members["B"]}"' in n3
        assert "score 5" in n3
        assert 'data-flag="detractor"' in n3
        n9 = _item(follow.text, ids["n9"])
        assert 'data-flag="detractor"' in n9
        assert 'class="excerpt"' not in n9
        assert 'data-flag="detractor"' not in _item(follow.text, ids["c3"])


def _item(html: str, answer: uuid.UUID) -> str:
    match = re.search(rf'id="answer-{answer}".*?</li>', html, re.S)
    assert match is not None, answer
    return match.group(0)
