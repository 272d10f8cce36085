"""Survey answers refused field by field (nothing stored, each message on its field, in the member's language),
a custom survey's answers stored in the field types' canonical forms, and survey definitions through the API."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import func, select

from models import SurveyAnswer
from services import care
from services.messaging.service import SURVEY_LINK_PURPOSE
from services.platform import signed
from tests.support.helpers import ApiClient, assert_error
from tests.support.messaging import Sessions
from tests.support.portal import SECRET, portal_member
from tests.support.surveys import custom_body, nps_body


async def _link(marketer: ApiClient, shop: ApiClient, sessions: Sessions, body: dict[str, Any], **member: Any) -> str:
    assert (await marketer.post("/api/v1/surveys", json=body)).status_code == 201
    who = await portal_member(shop, **member)
    async with sessions() as session:
        send = await care.send_survey(
            session, body["key"], uuid.UUID(who["id"]), source="ticket", source_id=str(uuid.uuid4()), task_queue="q"
        )
        await session.commit()
    return signed.sign_link(SECRET, send.id, SURVEY_LINK_PURPOSE, datetime.now(UTC) + timedelta(days=14))


async def _answers(sessions: Sessions) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(SurveyAnswer)) or 0)


async def test_an_nps_answer_needs_a_score_on_the_scale(
    http: httpx.AsyncClient, marketer: ApiClient, shop: ApiClient, sessions: Sessions
) -> None:
    token = await _link(marketer, shop, sessions, nps_body(comment_required=True))
    before = await _answers(sessions)
    for form, message in (
        ({"comment": "ok"}, "Choose a score from 0 to 10."),
        ({"score": "11", "comment": "ok"}, "The score is a whole number from 0 to 10."),
        ({"score": "-1", "comment": "ok"}, "The score is a whole number from 0 to 10."),
        ({"score": "7.5", "comment": "ok"}, "The score is a whole number from 0 to 10."),
        ({"score": "9", "comment": "  "}, "Please answer this question."),
        ({"score": "9", "comment": "x" * 2001}, "Please keep it under 2000 characters."),
        ({"score": "9", "comment": "nul \x00 here"}, "Please write your answer as text."),
    ):
        refused = await http.post(f"/portal/s/{token}", data=form)
        assert refused.status_code == 422, form
        assert message in refused.text, form
        assert 'role="alert"' in refused.text
    assert (
        await http.post(f"/portal/s/{token}", content=b"score=9", headers={"content-type": "text/plain"})
    ).status_code == 422
    assert await _answers(sessions) == before
    # The member's language: a Chinese member reads the messages in Chinese.
    zh = await _link(marketer, shop, sessions, nps_body(), locale="zh-CN")
    refused = await http.post(f"/portal/s/{zh}", data={"score": "42"})
    assert refused.status_code == 422
    assert "评分须为0到10之间的整数。" in refused.text
    assert "您有多大可能向朋友推荐我们？" in refused.text


async def test_a_custom_survey_checks_each_question_by_its_type_and_stores_canonical_values(
    http: httpx.AsyncClient, marketer: ApiClient, shop: ApiClient, sessions: Sessions
) -> None:
    token = await _link(marketer, shop, sessions, custom_body())
    before = await _answers(sessions)
    bad = {"store": "paris", "visits": "many", "visited_on": "2026-02-30", "again": "maybe", "liked": ["staff", "wifi"]}
    refused = await http.post(f"/portal/s/{token}", data=bad)
    assert refused.status_code == 422
    text = refused.text
    assert text.count("Choose from the options given.") == 2  # store and liked
    assert "Enter a number, such as 3 or 4.5." in text
    assert "Enter a date as YYYY-MM-DD." in text
    assert "Choose yes or no." in text
    assert 'value="many"' in text  # what the member typed stays in the form
    missing = await http.post(f"/portal/s/{token}", data={"note": "hello"})
    assert missing.status_code == 422
    assert missing.text.count("Please answer this question.") == 3  # store, visits, again (required)
    assert await _answers(sessions) == before

    good = {"store": "beijing", "visits": "4.50", "again": "yes", "liked": ["prices", "staff"], "visited_on": ""}
    assert (await http.post(f"/portal/s/{token}", data=good)).status_code == 303
    async with sessions() as session:
        row = (
            await session.execute(select(SurveyAnswer).order_by(SurveyAnswer.answered_at.desc()).limit(1))
        ).scalar_one()
    assert (row.score, row.comment) == (None, None)
    assert row.answers == {"store": "beijing", "visits": 4.5, "again": True, "liked": ["staff", "prices"]}


async def test_survey_definitions_are_checked_and_only_marketers_write_them(
    marketer: ApiClient, shop: ApiClient, admin: ApiClient
) -> None:
    body = nps_body()
    assert_error(await shop.post("/api/v1/surveys", json=body), 403)
    made = await marketer.post("/api/v1/surveys", json=body)
    assert made.status_code == 201, made.text
    assert made.json()["title"] == body["title"]
    assert_error(await marketer.post("/api/v1/surveys", json=body), 409, "survey_exists")
    assert (await shop.get(f"/api/v1/surveys/{body['key']}")).json()["kind"] == "nps"
    assert_error(await marketer.get("/api/v1/surveys/no_such_survey"), 404, "survey_not_found")

    def problem(response: httpx.Response) -> str:
        error = assert_error(response, 422)
        return str(error["details"][0]["field"]) + ": " + str(error["details"][0]["message"])

    with_questions = nps_body(questions=custom_body()["questions"])
    assert "questions belong to custom surveys" in problem(await marketer.post("/api/v1/surveys", json=with_questions))
    assert "at least one question" in problem(await marketer.post("/api/v1/surveys", json=custom_body(questions=[])))
    no_options = custom_body()
    no_options["questions"][0]["options"] = []
    assert "needs at least one option" in problem(await marketer.post("/api/v1/surveys", json=no_options))
    twice = custom_body()
    twice["questions"][1]["key"] = twice["questions"][0]["key"]
    assert "distinct" in problem(await marketer.post("/api/v1/surveys", json=twice))
    assert "zh-CN" in problem(await marketer.post("/api/v1/surveys", json=nps_body(title={"en": "Hi"})))
    assert "kind" in problem(await marketer.post("/api/v1/surveys", json=nps_body(kind="poll")))
    assert "key" in problem(await marketer.post("/api/v1/surveys", json=nps_body(key="Bad Key")))
    bad_patch = await marketer.patch(f"/api/v1/surveys/{body['key']}", json={"questions": custom_body()["questions"]})
    assert "body.questions" in problem(bad_patch)
    assert "kind" in problem(await marketer.patch(f"/api/v1/surveys/{body['key']}", json={"kind": "csat"}))

    changed = await marketer.patch(f"/api/v1/surveys/{body['key']}", json={"title": {"en": "Thanks!", "zh-CN": "谢谢"}})
    assert changed.json()["title"] == {"en": "Thanks!", "zh-CN": "谢谢"}
    assert body["key"] in {survey["key"] for survey in (await admin.get("/api/v1/surveys")).json()}
    assert (await marketer.delete(f"/api/v1/surveys/{body['key']}")).status_code == 200  # never sent
    assert_error(await marketer.get(f"/api/v1/surveys/{body['key']}"), 404)
