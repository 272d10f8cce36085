"""Behaviour events through the API: a check-in per local day, once-only awards, reviews, duplicates, refusals."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.support.clock import days_ago
from tests.support.helpers import ApiClient, assert_error
from tests.support.helpers import new_member_id as _member
from tests.support.loyalty import points_of as _points


def _event(member_id: str, kind: str, at: datetime, **extra: Any) -> dict[str, Any]:
    return {"member_id": member_id, "type": kind, "occurred_at": at.isoformat(), **extra}


async def test_check_in_pays_once_per_local_calendar_day(shop: ApiClient) -> None:
    member_id = await _member(shop, timezone="Asia/Shanghai")
    # Ten days ago (events older than 366 days are refused, so never a fixed date): 15:30 UTC is 23:30 in
    # Shanghai, and 16:30 UTC is already the next day there.
    late = days_ago(10, hour=15) + timedelta(minutes=30)
    statuses = []
    for at in (late, late + timedelta(minutes=20), late + timedelta(hours=1)):
        response = await shop.post("/api/v1/events", json=_event(member_id, "checked_in", at))
        assert response.status_code == 201, response.text
        statuses.append((response.json()["award_status"], response.json()["points_awarded"]))
    assert statuses == [("awarded", 10), ("already_awarded", 0), ("awarded", 10)]
    assert (await _points(shop, member_id))["posted"] == 20


async def test_once_only_awards_and_reviews_and_duplicates(shop: ApiClient) -> None:
    member_id = await _member(shop)
    now = datetime.now(UTC)
    results = []
    for body in (
        _event(member_id, "profile_completed", now),
        _event(member_id, "profile_completed", now),
        _event(member_id, "review_posted", now, properties={"review_id": "rv-1"}),
        _event(member_id, "review_posted", now, properties={"review_id": "rv-1"}),
        _event(member_id, "review_posted", now, properties={"review_id": "rv-2"}),
        _event(member_id, "cart_abandoned", now, properties={"cart_id": "c1"}),
        _event(member_id, "shared", now, event_id="share-1"),
        _event(member_id, "shared", now, event_id="share-1"),
    ):
        response = await shop.post("/api/v1/events", json=body)
        assert response.status_code == 201, response.text
        results.append(
            (response.json()["award_status"], response.json()["points_awarded"], response.json()["duplicate"])
        )
    assert results == [
        ("awarded", 50, False),
        ("already_awarded", 0, False),
        ("awarded", 20, False),
        ("already_awarded", 0, False),
        ("awarded", 20, False),
        ("no_award", 0, False),
        ("awarded", 5, False),
        ("already_awarded", 0, True),
    ]
    assert (await _points(shop, member_id))["posted"] == 95


async def test_bad_events_are_rejected(shop: ApiClient) -> None:
    member_id = await _member(shop)
    now = datetime.now(UTC)
    cases = [
        (_event(member_id, "teleported", now), "body.type"),
        (_event(member_id, "checked_in", now + timedelta(days=1)), "body.occurred_at"),
        (_event(member_id, "checked_in", now - timedelta(days=800)), "body.occurred_at"),
        (
            {**_event(member_id, "checked_in", now), "occurred_at": now.replace(tzinfo=None).isoformat()},
            "body.occurred_at",
        ),
        (_event(member_id, "shared", now, properties={"blob": "x" * 9000}), "body.properties"),
    ]
    for body, field in cases:
        error = assert_error(await shop.post("/api/v1/events", json=body), 422, "validation_error")
        assert field in {d["field"] for d in error["details"]}
    assert_error(await shop.post("/api/v1/events", json=_event(str(uuid.uuid4()), "checked_in", now)), 404)
    assert (await _points(shop, member_id))["posted"] == 0
