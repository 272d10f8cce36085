"""The challenges API: marketers define challenges (validated, idempotent by key), bad definitions are precise
422s that save nothing, the shop joins a member to an opt-in challenge once, and a member's runs and badges."""

from __future__ import annotations

import uuid
from typing import Any

from tests.support.challenges import challenge_body
from tests.support.helpers import ApiClient, assert_error, new_member_id


async def _codes(client: ApiClient) -> set[str]:
    return {c["code"] for c in (await client.get("/api/v1/challenges")).json()}


async def test_a_marketer_defines_a_challenge_once_per_idempotency_key(marketer: ApiClient, shop: ApiClient) -> None:
    body = challenge_body(badge={"code": "twice", "name_en": "Twice", "name_zh_cn": "两次", "icon": "medal"})
    headers = {"Idempotency-Key": f"chal-{uuid.uuid4()}"}
    made = await marketer.post("/api/v1/challenges", json=body, headers=headers)
    assert made.status_code == 201, made.text
    again = await marketer.post("/api/v1/challenges", json=body, headers=headers)
    assert (again.status_code, again.json()["id"]) == (201, made.json()["id"])
    out = made.json()
    assert (out["code"], out["active"], out["participants"], out["completed"]) == (body["code"], False, 0, 0)
    assert out["definition"]["goals"] == [{"kind": "order_count", "target": "2"}]
    assert_error(await marketer.post("/api/v1/challenges", json=body), 409, "challenge_exists")
    assert_error(await shop.post("/api/v1/challenges", json=challenge_body()), 403, "insufficient_role")
    read = await shop.get(f"/api/v1/challenges/{out['id']}")
    assert read.json()["definition"]["badge"]["icon"] == "medal"


async def test_bad_definitions_are_refused_with_the_field_and_save_nothing(marketer: ApiClient) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"enrolment": "signup"}, "body.definition"),  # a month window cannot start at sign-up
        ({"goals": []}, "body.definition.goals"),
        ({"goals": [{"kind": "order_count", "target": "1.5"}]}, "body.definition.goals.0"),
        ({"goals": [{"kind": "spend", "target": "-5"}]}, "body.definition.goals.0.target"),
        ({"reward": {"points": 0}}, "body.definition.reward"),
        ({"window": {"kind": "dates", "start": "2026-12-31", "end": "2026-12-01"}}, "body.definition.window.dates"),
        ({"badge": {"code": "x", "name_en": "X", "name_zh_cn": "X", "icon": "unicorn"}}, "body.definition.badge"),
    ]
    for change, field in cases:
        body = challenge_body(**change)
        error = assert_error(await marketer.post("/api/v1/challenges", json=body), 422, "validation_error")
        assert any(detail["field"].startswith(field) for detail in error["details"]), (change, error)
        assert body["code"] not in await _codes(marketer)
    body = challenge_body(reward={"points": 10, "coupon": "no_such_template"})
    error = assert_error(await marketer.post("/api/v1/challenges", json=body), 422, "validation_error")
    assert error["details"] == [
        {"field": "body.definition.reward.coupon", "message": "no coupon template 'no_such_template'"}
    ]
    assert body["code"] not in await _codes(marketer)


async def test_the_shop_joins_a_member_to_an_opt_in_challenge_once(marketer: ApiClient, shop: ApiClient) -> None:
    body = challenge_body()
    made = (await marketer.post("/api/v1/challenges", json=body)).json()
    member_id = await new_member_id(shop)
    url = f"/api/v1/challenges/{made['id']}/join"
    assert_error(await shop.post(url, json={"member_id": member_id}), 409, "challenge_not_open")  # paused
    change = {"active": True, "definition": body["definition"]}
    assert (await marketer.put(f"/api/v1/challenges/{made['id']}", json=change)).status_code == 200
    joined = await shop.post(url, json={"member_id": member_id})
    assert joined.status_code == 200, joined.text
    again = await shop.post(url, json={"member_id": member_id})
    assert again.json()["id"] == joined.json()["id"]
    run = joined.json()
    assert (run["status"], run["progress"]) == (
        "active",
        [{"kind": "order_count", "target": "2", "value": "0", "met": False}],
    )
    assert_error(await shop.post(url, json={"member_id": str(uuid.uuid4())}), 404)
    mine = (await shop.get(f"/api/v1/members/{member_id}/challenges")).json()
    assert ([c["id"] for c in mine["challenges"]], mine["badges"]) == ([run["id"]], [])
    listed = next(c for c in (await marketer.get("/api/v1/challenges")).json() if c["id"] == made["id"])
    assert (listed["participants"], listed["in_progress"]) == (1, 1)
    await marketer.put(f"/api/v1/challenges/{made['id']}", json={"active": False, "definition": body["definition"]})
