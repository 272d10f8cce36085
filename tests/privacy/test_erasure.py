"""Erasure through the API, against real Postgres and the Temporal dev server with the real workers: a member
with a profile, custom fields, messages, an order, points, events, a task, an adjustment and a stored
idempotent answer is erased; afterwards no row of any table holds their name, email or phone, the financial
records are intact, the ledger check is exact, their journey is cancelled and nothing more is recorded or sent."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest_asyncio
from sqlalchemy import delete, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment

from core.settings import Settings
from models import AuditEntry, IdempotencyRecord, JourneyRun, Member, MemberEvent, MemberField, Message, StaffTask
from services import messaging
from services.journeys import tasks
from services.loyalty import invariants
from services.messaging.service import Category, SendRequest
from services.messaging.templates import Channel
from tests.support.campaigns import eventually
from tests.support.helpers import ApiClient, assert_error, create_member, midday_zone, order_body
from tests.support.temporal import started_workers

Sessions = async_sessionmaker[AsyncSession]
REASON = {"reason": "access and erasure request, ticket 4711"}


@pytest_asyncio.fixture
async def field_keys(sessions: Sessions) -> AsyncIterator[dict[str, str]]:
    """Two custom fields of this test: a text one (personal by default) and a number one (not personal)."""
    suffix = uuid.uuid4().hex[:6]
    keys = {"personal": f"nickname_{suffix}", "kept": f"shoe_size_{suffix}"}
    yield keys
    async with sessions() as session:
        await session.execute(delete(MemberField).where(MemberField.key.in_(list(keys.values()))))
        await session.commit()


def _distinct_person() -> dict[str, str]:
    tag = uuid.uuid4().hex[:10]
    return {
        "name": f"Zhao Erasable {tag}",
        "email": f"erase-{tag}@example.com",
        "phone": f"+86139{tag[:8].translate(str.maketrans('abcdef', '123456'))}",
    }


async def _define_fields(admin: ApiClient, keys: dict[str, str]) -> None:
    for key, field_type in ((keys["personal"], "text"), (keys["kept"], "number")):
        body = {"key": key, "labels": {"en": key, "zh-CN": key}, "type": field_type}
        response = await admin.post("/api/v1/member-fields", json=body)
        assert response.status_code == 201, response.text
    listed = {f["key"]: f for f in (await admin.get("/api/v1/member-fields")).json()}
    assert listed[keys["personal"]]["personal_data"] is True, "text fields are personal unless said otherwise"
    assert listed[keys["kept"]]["personal_data"] is False


async def _rows_mentioning(sessions: Sessions, needles: list[str]) -> list[str]:
    """Every row of every table whose text holds one of `needles`: the whole database, not just the inventory."""
    async with sessions() as session:
        tables = (
            await session.execute(
                text(
                    "SELECT table_name FROM information_schema.tables "
                    "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
                )
            )
        ).scalars()
        found = []
        for table in list(tables):
            for needle in needles:
                hit = await session.execute(
                    text(f'SELECT count(*) FROM "{table}" t WHERE t::text ILIKE :pattern'),
                    {"pattern": f"%{needle}%"},
                )
                if hit.scalar_one():
                    found.append(f"{table}: {needle}")
        return found


async def _set_up_member(
    admin: ApiClient, shop: ApiClient, sessions: Sessions, keys: dict[str, str], person: dict[str, str]
) -> str:
    await _define_fields(admin, keys)
    attributes = {keys["personal"]: f"Little {person['name']}", keys["kept"]: 42}
    response = await shop.post(
        "/api/v1/members",
        json={
            "external_id": f"cust-{uuid.uuid4().hex[:12]}",
            **person,
            "birthday": "1991-04-02",
            "timezone": midday_zone(),  # quiet hours would hold the welcome for hours on the dev server's clock
            "consent": {"email": True, "sms": True},
            "tags": ["vip"],
            "attributes": attributes,
        },
        headers={"Idempotency-Key": f"signup-{uuid.uuid4().hex}"},
    )
    assert response.status_code == 201, response.text
    member_id: str = response.json()["id"]
    assert (await shop.post("/api/v1/orders", json=order_body(member_id))).status_code == 201
    event = {
        "member_id": member_id,
        "type": "review_posted",
        "occurred_at": datetime.now(UTC).isoformat(),
        "properties": {"text": f"Lovely tea, says {person['name']}"},
    }
    assert (await shop.post("/api/v1/events", json=event)).status_code in (200, 201)
    adjustment = {"points": 50, "reason": f"goodwill after {person['name']} called"}
    response = await admin.post(
        f"/api/v1/members/{member_id}/points/adjustments",
        json=adjustment,
        headers={"Idempotency-Key": f"adj-{uuid.uuid4().hex}"},
    )
    assert response.status_code == 201, response.text
    async with sessions() as session:
        await tasks.create(
            session,
            member_id=uuid.UUID(member_id),
            title=f"Call {person['name']} about the parcel",
            assignee_role="marketer",
            due_days=1,
            source_key=f"test:{member_id}",
        )
        await session.commit()
    return member_id


async def _journeys(sessions: Sessions, member_id: str) -> tuple[dict[str, str], list[Message]]:
    """The member's runs (kind: status) and messages."""
    async with sessions() as session:
        runs = await session.execute(select(JourneyRun).where(JourneyRun.member_id == uuid.UUID(member_id)))
        sent = (await session.execute(select(Message).where(Message.member_id == uuid.UUID(member_id)))).scalars()
        return {run.kind: run.status for run in runs.scalars()}, list(sent)


async def test_erasure_removes_every_trace_keeps_the_ledger_and_stops_the_journey(
    admin: ApiClient,
    shop: ApiClient,
    sessions: Sessions,
    settings: Settings,
    temporal: WorkflowEnvironment,
    field_keys: dict[str, str],
) -> None:
    person = _distinct_person()
    needles = [person["name"], person["email"], person["phone"]]
    async with started_workers(temporal.client, sessions, settings):
        member_id = await _set_up_member(admin, shop, sessions, field_keys, person)

        async def settled() -> bool:
            # The welcome is sent and ends with the order; the first-purchase follow-up waits days for its step.
            runs, sent = await _journeys(sessions, member_id)
            follow_up = runs.get("first_purchase")
            return runs.get("welcome") == "exited" and follow_up == "running" and any(m.status == "sent" for m in sent)

        await eventually(settled, what="the welcome email, and the follow-up waiting")
        before = (await admin.get(f"/api/v1/members/{member_id}/points")).json()
        held = await _rows_mentioning(sessions, needles)
        assert {h.split(":")[0] for h in held} >= {"members", "messages", "member_events", "staff_tasks", "audit_log"}

        response = await admin.request("DELETE", f"/api/v1/members/{member_id}", json=REASON)
        assert response.status_code == 200, response.text
        erased = response.json()
        assert erased["already_erased"] is False
        assert erased["workflows_stopped"] == 1
        assert erased["workflows_not_stopped"] == []

        async def cancelled() -> bool:
            runs, _ = await _journeys(sessions, member_id)
            return runs.get("first_purchase") == "cancelled"

        await eventually(cancelled, what="the follow-up run cancelled")

    assert await _rows_mentioning(sessions, needles) == []
    await _check_scrubbed(sessions, member_id, field_keys)
    after = (await admin.get(f"/api/v1/members/{member_id}/points")).json()
    assert after == before, "points stay: the ledger is a financial record"
    async with sessions() as session:
        assert (await invariants.check(session)).ok
    await _check_refused(admin, shop, sessions, settings, member_id)

    again = await admin.request("DELETE", f"/api/v1/members/{member_id}", json=REASON)
    assert again.status_code == 200, again.text
    assert again.json()["already_erased"] is True
    assert again.json()["erased_at"] == erased["erased_at"]


async def _check_scrubbed(sessions: Sessions, member_id: str, keys: dict[str, str]) -> None:
    mid = uuid.UUID(member_id)
    async with sessions() as session:
        member = (await session.execute(select(Member).where(Member.id == mid))).scalar_one()
        assert (member.name, member.email, member.phone, member.birthday) == (None, None, None, None)
        assert member.external_id == f"erased:{member_id}"
        assert member.attributes == {keys["kept"]: 42}
        assert (member.tags, member.consent_email, member.consent_sms) == ([], False, False)
        assert member.erased_at is not None
        assert member.order_count == 1
        messages = (await session.execute(select(Message).where(Message.member_id == mid))).scalars().all()
        assert messages
        assert all(m.body in (None, "[erased]") and m.subject in (None, "[erased]") for m in messages)
        events = (await session.execute(select(MemberEvent).where(MemberEvent.member_id == mid))).scalars().all()
        assert [e.properties for e in events if e.type == "review_posted"] == [{}]
        assert any(e.type == "order_completed" and e.properties for e in events), "system events keep their ids"
        task = (await session.execute(select(StaffTask).where(StaffTask.member_id == mid))).scalar_one()
        assert task.title == "[erased]"
        stored = await session.execute(
            select(IdempotencyRecord).where(IdempotencyRecord.response_body["id"].astext == member_id)
        )
        assert stored.first() is None
        entries = (
            (await session.execute(select(AuditEntry).where(AuditEntry.target_id == member_id).order_by(AuditEntry.id)))
            .scalars()
            .all()
        )
        erasure = [e for e in entries if e.action == "member.erase"]
        assert [e.details["reason"] for e in erasure] == [REASON["reason"]]
        assert all("reason" not in e.details for e in entries if e.action != "member.erase")


async def _check_refused(
    admin: ApiClient, shop: ApiClient, sessions: Sessions, settings: Settings, member_id: str
) -> None:
    """Nothing new is recorded about an erased member, and nothing is sent to them."""
    event = {"member_id": member_id, "type": "checked_in", "occurred_at": datetime.now(UTC).isoformat()}
    assert_error(await shop.post("/api/v1/events", json=event), 409, "member_erased")
    assert_error(await shop.post("/api/v1/orders", json=order_body(member_id)), 409, "member_erased")
    assert_error(await shop.patch(f"/api/v1/members/{member_id}", json={"name": "Back Again"}), 409, "member_erased")
    request = SendRequest(
        message_key=f"test:{uuid.uuid4()}",
        member_id=uuid.UUID(member_id),
        channel=Channel.EMAIL,
        template="welcome",
        category=Category.TRANSACTIONAL,
    )
    async with sessions() as session:
        outcome = await messaging.prepare(
            session, request, now=datetime.now(UTC), settings=settings.messaging, secret_key="k"
        )
        await session.commit()
    assert (outcome.status, outcome.reason) == ("suppressed", "member_erased")


async def test_export_returns_everything_held_and_is_audited(admin: ApiClient, shop: ApiClient) -> None:
    person = _distinct_person()
    member = await create_member(shop, **person)
    assert (await shop.post("/api/v1/orders", json=order_body(member["id"]))).status_code == 201
    response = await admin.get(f"/api/v1/members/{member['id']}/export")
    assert response.status_code == 200, response.text
    document = response.json()
    tables: dict[str, list[dict[str, Any]]] = document["tables"]
    assert (tables["members"][0]["name"], tables["members"][0]["phone"]) == (person["name"], person["phone"])
    assert (len(tables["orders"]), len(tables["ledger_transactions"])) == (1, 1)
    assert len(tables["ledger_entries"]) == 1, "the member's side of each posting"
    assert document["member_id"] == member["id"]
    audit = await admin.get(f"/api/v1/members/{member['id']}/export")
    assert any(row["action"] == "member.export" for row in audit.json()["tables"]["audit_log"])


async def test_erasure_and_export_refuse_bad_requests(
    admin: ApiClient, shop: ApiClient, marketer: ApiClient, approver: ApiClient
) -> None:
    person = _distinct_person()
    member_id = (await create_member(shop, **person))["id"]
    url = f"/api/v1/members/{member_id}"
    assert_error(await admin.request("DELETE", url), 422)
    assert_error(await admin.request("DELETE", url, json={}), 422)
    assert_error(await admin.request("DELETE", url, json={"reason": " x "}), 422)
    assert_error(await admin.request("DELETE", url, json={"reason": "ok", "extra": 1}), 422)
    quoting = await admin.request("DELETE", url, json={"reason": f"asked by {person['email']}"})
    assert_error(quoting, 422, "reason_has_personal_data")
    assert_error(await admin.request("DELETE", f"/api/v1/members/{uuid.uuid4()}", json=REASON), 404, "member_not_found")
    assert_error(await admin.request("DELETE", "/api/v1/members/not-a-uuid", json=REASON), 422)
    for other in (shop, marketer, approver):
        assert_error(await other.request("DELETE", url, json=REASON), 403)
        assert_error(await other.get(f"{url}/export"), 403)
    assert_error(await admin.http.request("DELETE", url, json=REASON), 401)
    assert_error(await admin.get(f"/api/v1/members/{uuid.uuid4()}/export"), 404)
    # None of it changed anything.
    still = (await admin.get(url, params={"unmasked": "true"})).json()
    assert (still["name"], still["email"], still["phone"]) == (person["name"], person["email"], person["phone"])
