"""Campaigns end to end on a real Temporal dev server and real Postgres: snapshot with a deterministic
holdout, enrolment into journeys with deterministic ids, continue-as-new, validation and roles."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import ARRAY, Uuid, column, func, insert, literal, select
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from core.settings import CampaignSettings, Settings
from models import Campaign, CampaignMember, Member, Message, Order
from services import journeys
from services.campaigns import enrolment
from services.platform.api_keys import Role
from services.platform.audit import Actor
from tests.support.campaigns import (
    Sessions,
    add_journey,
    add_members,
    add_segment,
    count_journeys,
    eventually,
    running_workers,
    tag,
    wait_status,
)
from tests.support.helpers import ApiClient, KeyMaker, assert_error, walk_pages
from tests.support.temporal import HISTORIES
from workflows.campaign import CampaignWorkflow
from workflows.contracts import CAMPAIGN_ID, JOURNEY_KIND, MEMBER_ID, CampaignOutcome, CampaignStatus


@pytest.fixture
def campaign_tuning() -> CampaignSettings:
    return CampaignSettings(page_size=7, concurrency=4, pages_per_run=3)


def _body(segment_id: uuid.UUID, kind: str, **extra: Any) -> dict[str, Any]:
    return {"name": "Spring promo", "segment_id": str(segment_id), "journey_kind": kind, **extra}


async def test_holdout_bucket_in_sql_is_the_python_function_exactly(sessions: Sessions) -> None:
    campaign_id = uuid.uuid4()
    member_ids = [uuid.uuid5(uuid.NAMESPACE_OID, f"member-{n}") for n in range(5000)]
    unnested = select(func.unnest(literal(member_ids, ARRAY(Uuid))).label("member_id")).subquery()
    stmt = select(unnested.c.member_id, enrolment.holdout_bucket(campaign_id, column("member_id")))
    async with sessions() as session:
        rows = (await session.execute(stmt.select_from(unnested))).all()
    assert len(rows) == 5000
    assert all(bucket == enrolment.bucket_of(campaign_id, member_id) for member_id, bucket in rows)
    # Uniform enough that a 10% holdout holds out about 10% (fixed ids: this is a fact, not a draw).
    share = sum(1 for _, bucket in rows if bucket < 10) / len(rows)
    assert 0.085 < share < 0.115


async def test_campaign_enrols_the_segment_into_journeys_with_a_deterministic_holdout(
    marketer: ApiClient, sessions: Sessions, settings: Settings, temporal_dev: WorkflowEnvironment
) -> None:
    member_tag = tag()
    members = await add_members(sessions, 60, tags=[member_tag])
    kind = await add_journey(sessions)
    segment_id = await add_segment(sessions, member_tag)
    async with running_workers(temporal_dev.client, sessions, settings):
        response = await marketer.post(
            "/api/v1/campaigns", json=_body(segment_id, kind, holdout_percent=20, start=True)
        )
        assert response.status_code == 201, response.text
        campaign_id = response.json()["id"]
        assert response.json()["journey_version"] == 1
        done = await wait_status(marketer, campaign_id, "completed")
        expected_held = {m for m in members if enrolment.bucket_of(campaign_id, m) < 20}
        progress = done["progress"]
        assert progress["total"] == 60
        assert progress["held_out"] == len(expected_held) > 0
        assert progress["enrolled"] == 60 - len(expected_held)
        assert progress["pending"] == 0
        assert progress["skipped"] == {}
        assert done["runs"] == 1
        assert done["snapshot_at"] is not None
        assert done["segment_definition"] == {"tags": {"any": [member_tag]}}
        held = await marketer.get(f"/api/v1/campaigns/{campaign_id}/members", params={"status": "held_out"})
        assert {uuid.UUID(m["member_id"]) for m in held.json()["items"]} == expected_held

        client = temporal_dev.client
        await eventually(
            lambda: _equals(count_journeys(client, campaign_id), 60 - len(expected_held)), what="visibility"
        )
        enrolled = sorted(set(members) - expected_held)
        handle = client.get_workflow_handle(f"campaign-{campaign_id}-{enrolled[0]}")
        attributes = (await handle.describe()).typed_search_attributes
        assert attributes.get(CAMPAIGN_ID) == campaign_id
        assert attributes.get(MEMBER_ID) == str(enrolled[0])
        assert attributes.get(JOURNEY_KIND) == kind
        assert (await handle.result())["result"] == "completed"
        await eventually(lambda: _all_tagged(sessions, enrolled), what="journeys tagged the members")
        async with sessions() as session:
            untouched = (
                await session.execute(
                    select(func.count())
                    .select_from(Member)
                    .where(Member.id.in_(expected_held), Member.tags.contains(["campaign_reached"]))
                )
            ).scalar_one()
        assert untouched == 0  # held-out members never got the journey

        # The campaign workflow continued as new (7 per page, 3 pages a run) and kept its counts.
        outcome: CampaignOutcome = await client.get_workflow_handle_for(
            CampaignWorkflow.run, f"campaign-{campaign_id}"
        ).result()
        assert outcome.continued >= 2
        await _record_history(client, f"campaign-{campaign_id}", "campaign_continued_as_new")
        assert outcome.counts.enrolled == 60 - len(expected_held)
        assert outcome.pages == -(-outcome.counts.enrolled // 7)  # 7-member pages, none read twice
        assert outcome.largest_history < 60


async def _record_history(client: Client, workflow_id: str, name: str) -> None:
    """With MEMBERFLOW_RECORD_HISTORIES=1, save the first run's history for tests/workflows/test_replay.py."""
    if not os.environ.get("MEMBERFLOW_RECORD_HISTORIES"):
        return
    runs = [e async for e in client.list_workflows(f'WorkflowId = "{workflow_id}"')]
    first = min(runs, key=lambda e: e.start_time)
    history = await client.get_workflow_handle(workflow_id, run_id=first.run_id).fetch_history()
    HISTORIES.mkdir(exist_ok=True)
    (HISTORIES / f"{name}.json").write_text(history.to_json())


async def _equals(count: Any, expected: int) -> bool:
    return bool(await count == expected)


async def _all_tagged(sessions: Sessions, member_ids: list[uuid.UUID]) -> bool:
    async with sessions() as session:
        tagged = (
            await session.execute(
                select(func.count())
                .select_from(Member)
                .where(Member.id.in_(member_ids), Member.tags.contains(["campaign_reached"]))
            )
        ).scalar_one()
    return bool(tagged == len(member_ids))


async def test_a_second_snapshot_holds_out_the_same_members_and_adds_only_newcomers(
    sessions: Sessions, marketer: ApiClient
) -> None:
    member_tag = tag()
    first = await add_members(sessions, 400, tags=[member_tag])
    kind = await add_journey(sessions)
    segment_id = await add_segment(sessions, member_tag)
    response = await marketer.post("/api/v1/campaigns", json=_body(segment_id, kind, holdout_percent=25))
    campaign_id = uuid.UUID(response.json()["id"])
    async with sessions() as session:
        assert await enrolment.snapshot(session, campaign_id) == 400
        await session.commit()
        held_first = set(
            (
                await session.execute(
                    select(CampaignMember.member_id).where(
                        CampaignMember.campaign_id == campaign_id, CampaignMember.held_out
                    )
                )
            ).scalars()
        )
    newcomers = await add_members(sessions, 50, tags=[member_tag])
    async with sessions() as session:
        assert await enrolment.snapshot(session, campaign_id) == 50
        await session.commit()
        rows = (
            await session.execute(
                select(CampaignMember.member_id, CampaignMember.held_out, CampaignMember.status).where(
                    CampaignMember.campaign_id == campaign_id
                )
            )
        ).all()
    assert len(rows) == 450
    held_now = {row.member_id for row in rows if row.held_out}
    assert held_now & set(first) == held_first
    assert held_now == {m for m in [*first, *newcomers] if enrolment.bucket_of(campaign_id, m) < 25}
    assert all(row.status == ("held_out" if row.held_out else "pending") for row in rows)


async def test_progress_query_reports_the_status_object(
    marketer: ApiClient, sessions: Sessions, settings: Settings, temporal_dev: WorkflowEnvironment
) -> None:
    member_tag = tag()
    await add_members(sessions, 10, tags=[member_tag])
    kind = await add_journey(sessions)
    segment_id = await add_segment(sessions, member_tag)
    async with running_workers(temporal_dev.client, sessions, settings):
        response = await marketer.post("/api/v1/campaigns", json=_body(segment_id, kind, start=True))
        campaign_id = response.json()["id"]
        await wait_status(marketer, campaign_id, "completed")
        handle: WorkflowHandle[Any, Any] = temporal_dev.client.get_workflow_handle_for(
            CampaignWorkflow.run, f"campaign-{campaign_id}"
        )
        await handle.result()
        status: CampaignStatus = await handle.query(CampaignWorkflow.status)
        await _record_history(temporal_dev.client, handle.id, "campaign")
    assert status.state == "completed"
    assert status.counts.enrolled == 10
    assert status.campaign_id == campaign_id
    first = (await marketer.get(f"/api/v1/campaigns/{campaign_id}/members", params={"limit": 6})).json()
    rest = (
        await marketer.get(
            f"/api/v1/campaigns/{campaign_id}/members", params={"limit": 6, "cursor": first["next_cursor"]}
        )
    ).json()
    ids = [m["member_id"] for m in first["items"] + rest["items"]]
    assert len(ids) == len(set(ids)) == 10
    assert ids == sorted(ids)
    assert rest["next_cursor"] is None
    assert {m["workflow_id"] for m in first["items"]} == {f"campaign-{campaign_id}-{i}" for i in ids[:6]}
    walked = await walk_pages(marketer, f"/api/v1/campaigns/{campaign_id}/members", limit=3)
    assert [m["member_id"] for m in walked] == ids  # by member id, each once
    # GET lists the campaign, with the counters the workflow recorded.
    listed = (await marketer.get("/api/v1/campaigns", params={"status": "completed", "limit": 200})).json()
    mine = next(item for item in listed["items"] if item["id"] == campaign_id)
    assert mine["counters"]["enrolled"] == 10


async def test_the_campaign_list_pages_newest_first_with_each_campaign_once(
    marketer: ApiClient, sessions: Sessions
) -> None:
    kind = await add_journey(sessions)
    segment_id = await add_segment(sessions, tag())
    created = []
    for n in range(3):
        response = await marketer.post("/api/v1/campaigns", json={**_body(segment_id, kind), "name": f"Paging {n}"})
        assert response.status_code == 201, response.text
        created.append(response.json()["id"])
    walked = [c["id"] for c in await walk_pages(marketer, "/api/v1/campaigns", limit=2, params={"status": "draft"})]
    assert len(walked) == len(set(walked))
    assert walked == sorted(walked, key=uuid.UUID, reverse=True)  # newest first (time-ordered ids)
    assert [c for c in walked if c in created] == list(reversed(created))


async def test_validation_errors_name_the_field_and_change_nothing(marketer: ApiClient, sessions: Sessions) -> None:
    member_tag = tag()
    kind = await add_journey(sessions)
    segment_id = await add_segment(sessions, member_tag)
    async with sessions() as session:
        before = (await session.execute(select(func.count()).select_from(Campaign))).scalar_one()
    cases: list[tuple[dict[str, Any], str]] = [
        (_body(uuid.uuid4(), kind), "body.segment_id"),
        (_body(segment_id, "no_such_journey"), "body.journey_kind"),
        (_body(segment_id, kind, journey_version=9), "body.journey_version"),
        (_body(segment_id, kind, holdout_percent=51), "body.holdout_percent"),
        (_body(segment_id, kind, holdout_percent=-1), "body.holdout_percent"),
        (_body(segment_id, kind, send_cap=0), "body.send_cap"),
        (_body(segment_id, kind, attribution_days=0), "body.attribution_days"),
        (_body(segment_id, kind, start_at="2020-01-01T00:00:00Z"), "body.start_at"),
        (_body(segment_id, kind, start_at="2030-01-01T00:00:00"), "body.start_at"),
        (_body(segment_id, kind, recurrence={"every": {"minutes": 5}}), "body.recurrence.every"),
        (_body(segment_id, kind, recurrence={"cron": "every day"}), "body.recurrence"),
        ({**_body(segment_id, kind), "name": ""}, "body.name"),
        ({**_body(segment_id, kind), "surprise": 1}, "body.surprise"),
    ]
    for body, field in cases:
        response = await marketer.post("/api/v1/campaigns", json=body)
        error = assert_error(response, 422)
        fields = [d["field"] for d in error["details"]]
        assert any(f.startswith(field) for f in fields), (body, fields)
    async with sessions() as session:
        await journeys.set_enabled(session, kind, False, actor=Actor.system("test"))
        await session.commit()
    error = assert_error(await marketer.post("/api/v1/campaigns", json=_body(segment_id, kind)), 422)
    assert error["details"][0]["field"] == "body.journey_kind"
    async with sessions() as session:
        after = (await session.execute(select(func.count()).select_from(Campaign))).scalar_one()
    assert after == before


async def test_roles_marketer_writes_any_key_reads(
    marketer: ApiClient, http: Any, make_key: KeyMaker, sessions: Sessions
) -> None:
    kind = await add_journey(sessions)
    segment_id = await add_segment(sessions, tag())
    shop = ApiClient(http, await make_key(Role.INTEGRATION))
    assert_error(await shop.post("/api/v1/campaigns", json=_body(segment_id, kind)), 403, "insufficient_role")
    admin = ApiClient(http, await make_key(Role.ADMIN))
    created = await admin.post("/api/v1/campaigns", json=_body(segment_id, kind))
    assert created.status_code == 201, created.text
    campaign_id = created.json()["id"]
    for action in ("start", "pause", "resume", "cancel"):
        assert_error(await shop.post(f"/api/v1/campaigns/{campaign_id}/{action}"), 403, "insufficient_role")
    for path in ("", "/results", "/members"):
        assert (await shop.get(f"/api/v1/campaigns/{campaign_id}{path}")).status_code == 200
    assert_error(await http.get(f"/api/v1/campaigns/{campaign_id}"), 401)
    assert_error(await marketer.get(f"/api/v1/campaigns/{uuid.uuid4()}"), 404, "campaign_not_found")


async def test_results_count_conversions_in_the_window_revenue_and_uplift(
    marketer: ApiClient, sessions: Sessions
) -> None:
    member_tag = tag()
    people = await add_members(sessions, 13, tags=[member_tag])
    treated, held, skipped = people[:6], people[6:10], people[10:]
    kind = await add_journey(sessions)
    segment_id = await add_segment(sessions, member_tag)
    response = await marketer.post("/api/v1/campaigns", json=_body(segment_id, kind, holdout_percent=30))
    campaign_id = uuid.UUID(response.json()["id"])
    t0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    rows = [
        *({"member_id": m, "held_out": False, "status": "enrolled", "enrolled_at": t0} for m in treated),
        *({"member_id": m, "held_out": True, "status": "held_out", "added_at": t0} for m in held),
        *({"member_id": m, "held_out": False, "status": "skipped", "skip_reason": "no_consent"} for m in skipped),
    ]

    def order(
        member: uuid.UUID, after: timedelta, amount: str, refunded: str = "0", status: str = "completed"
    ) -> dict[str, Any]:
        return {
            "external_id": f"res-{uuid.uuid4().hex}",
            "member_id": member,
            "amount": Decimal(amount),
            "refunded_amount": Decimal(refunded),
            "currency": "CNY",
            "status": status,
            "items": [],
            "points_earned": 0,
            "placed_at": t0 + after,
        }

    day = timedelta(days=1)
    orders = [
        order(treated[0], day, "100.00"),  # converts
        order(treated[0], 2 * day, "50.00"),  # same member: one conversion, both orders' revenue
        order(treated[1], 8 * day, "70.00"),  # after the 7-day window
        order(treated[2], -day, "60.00"),  # before enrolment
        order(treated[3], 7 * day - timedelta(hours=1), "40.00", "10.00", "partially_refunded"),  # converts, 30 net
        order(treated[4], 3 * day, "90.00", "90.00", "refunded"),  # refunded in full: no conversion
        order(held[0], 3 * day, "80.00"),  # holdout converts
        order(held[1], 10 * day, "55.00"),  # holdout, outside the window
        order(skipped[0], day, "500.00"),  # skipped members are in neither group
    ]
    messages = [
        {"status": "sent", "sent_at": t0},
        {"status": "sent", "sent_at": t0},
        {"status": "suppressed", "sent_at": None},
    ]
    async with sessions() as session:
        await session.execute(insert(CampaignMember), [{"campaign_id": campaign_id, **row} for row in rows])
        await session.execute(insert(Order), orders)
        await session.execute(
            insert(Message),
            [
                {
                    "message_key": f"res-{uuid.uuid4().hex}",
                    "member_id": treated[n],
                    "channel": "email",
                    "template": "brand_story",
                    "category": "marketing",
                    "campaign_id": str(campaign_id),
                    **message,
                }
                for n, message in enumerate(messages)
            ],
        )
        await session.commit()
    results = (await marketer.get(f"/api/v1/campaigns/{campaign_id}/results")).json()
    assert results["enrolled"] == 6
    assert results["held_out"] == 4
    assert results["messages"] == {"sent": 2, "suppressed": 1}
    assert results["treatment"] == {
        "members": 6,
        "conversions": 2,
        "revenue": "180.00",
        "conversion_rate": pytest.approx(1 / 3),
    }
    assert results["holdout"] == {"members": 4, "conversions": 1, "revenue": "80.00", "conversion_rate": 0.25}
    assert results["uplift"] == pytest.approx(1 / 3 - 1 / 4)
    assert results["relative_uplift"] == pytest.approx((1 / 3 - 1 / 4) / (1 / 4))
    assert results["attribution_days"] == 7
