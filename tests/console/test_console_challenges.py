"""The console's challenge pages: a marketer defines a challenge in plain form fields (no JSON), bad input comes
back on the field at fault with nothing written, and the edit form changes it; other roles do not see it."""

from __future__ import annotations

import uuid

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from models import Challenge
from services import challenges
from services.platform.api_keys import Role
from tests.support.challenges import challenge_body, challenge_form, own_challenge, unique_code
from tests.support.console import Sessions, console_client, csrf, sign_in
from tests.support.helpers import ApiClient, KeyMaker, new_member_id


async def _stored(sessions: Sessions, code: str) -> Challenge | None:
    async with sessions() as session:
        return (await session.execute(select(Challenge).where(Challenge.code == code))).scalar_one_or_none()


async def _signed_in(client: httpx.AsyncClient, make_key: KeyMaker) -> str:
    await sign_in(client, await make_key(Role.MARKETER))
    page = await client.get("/console/challenges")
    assert page.status_code == 200
    assert 'href="/console/challenges"' in page.text  # in the marketer's navigation
    return csrf(page.text)


async def test_a_marketer_defines_and_edits_a_starter_pack_in_the_form(
    app: FastAPI, make_key: KeyMaker, sessions: Sessions
) -> None:
    async with console_client(app) as client:
        token = await _signed_in(client, make_key)
        code = unique_code("starter")
        form = challenge_form(
            code,
            csrf_token=token,
            enrolment="opt_in",
            window_kind="relative",
            window_days="14",
            goal_profile_completed="1",
            goal_order_count="1",
            goal_checkin_days="3",
            reward_points="300",
            badge_code="starter",
            badge_name_en="Off to a good start",
            badge_name_zh_cn="新手上路",
            badge_icon="rocket",
        )
        made = await client.post("/console/challenges", data=form)
        assert made.status_code == 303, made.text
        stored = await _stored(sessions, code)
        assert stored is not None
        assert stored.active is False  # the box was left unticked
        assert stored.definition == {
            "title_en": "Order twice this month",
            "title_zh_cn": "本月下单两次",
            "enrolment": "opt_in",
            "window": {"kind": "relative", "days": 14},
            "goals": [
                {"kind": "profile_completed", "target": "1"},
                {"kind": "order_count", "target": "1"},
                {"kind": "checkin_days", "target": "3"},
            ],
            "reward": {"points": 300},
            "badge": {"code": "starter", "name_en": "Off to a good start", "name_zh_cn": "新手上路", "icon": "rocket"},
        }
        page = await client.get(made.headers["location"].split("?")[0])
        assert page.status_code == 200
        assert 'value="14"' in page.text
        assert 'name="goal_checkin_days" type="text" value="3"' in page.text

        edit = form | {"title_en": "Starter pack", "goal_checkin_days": "", "active": "1"}
        saved = await client.post(f"/console/challenges/{stored.id}", data=edit)
        assert saved.status_code == 303, saved.text
        changed = await _stored(sessions, code)
        assert changed is not None
        assert (changed.title_en, changed.active, len(changed.definition["goals"])) == ("Starter pack", True, 2)
        changed.active = False
        async with sessions() as session:
            await session.merge(changed)
            await session.commit()


async def test_bad_input_comes_back_on_its_field_and_writes_nothing(
    app: FastAPI, make_key: KeyMaker, sessions: Sessions
) -> None:
    async with console_client(app) as client:
        token = await _signed_in(client, make_key)
        cases = [
            ({"goal_order_count": "1.5"}, "goal_order_count", "a count is a whole number"),
            ({"goal_order_count": ""}, "goals", "at least 1 item"),
            ({"window_kind": "relative", "window_days": "0"}, "window_days", "greater than or equal to 1"),
            ({"enrolment": "signup"}, "enrolment", "a sign-up challenge runs N days from joining"),
            ({"reward_points": ""}, "reward_points", "a reward gives points, a coupon, or both"),
            ({"badge_code": "b1", "badge_name_en": "B", "badge_name_zh_cn": ""}, "badge_name_zh_cn", "at least 1"),
            ({"reward_coupon": "no_such_template"}, "reward_coupon", "no coupon template"),
            ({"code": "Bad Code!"}, "code", "lower-case letters"),
        ]
        for change, field, message in cases:
            form = challenge_form(csrf_token=token) | change
            page = await client.post("/console/challenges", data=form)
            assert page.status_code == 422, (change, page.status_code)
            assert f'id="err-{field}"' in page.text, (change, page.text[-3000:])
            assert message in page.text, change
            assert field == "goals" or 'aria-invalid="true"' in page.text  # goals: the section's message
            assert await _stored(sessions, form["code"]) is None


async def test_the_challenge_pages_are_the_marketers(app: FastAPI, make_key: KeyMaker) -> None:
    async with console_client(app) as client:
        await sign_in(client, await make_key(Role.APPROVER))
        assert (await client.get("/console/challenges")).status_code == 403


async def test_the_member_360_page_shows_challenge_progress_and_badges(
    app: FastAPI, make_key: KeyMaker, sessions: Sessions, shop: ApiClient, task_queue: str
) -> None:
    member_id = uuid.UUID(await new_member_id(shop))
    raw = challenge_body()["definition"] | {"window": {"kind": "relative", "days": 30}}
    async with own_challenge(sessions, raw) as challenge:
        async with sessions() as session:
            await challenges.opt_in(session, challenge.id, member_id, task_queue=task_queue)
            session.info.clear()  # no worker here: the run's workflow start stays undelivered
            await session.commit()
        async with console_client(app) as client:
            await sign_in(client, await make_key(Role.MARKETER))
            page = await client.get(f"/console/members/{member_id}")
    assert page.status_code == 200
    assert f"<code>{challenge.code}</code> Order twice this month" in page.text
    assert "order count 0/2" in page.text
    assert "Badges: none yet" in page.text
