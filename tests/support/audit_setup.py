"""What the audit recipes prepare before their one change, made with the stage's own keys or services (whose
entries are not the person's): members, journeys, segments, campaigns, tasks, runs, parked outbox rows,
ticket queues and tickets, and a message whose outcome a crash left unknown."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from models import Message, StaffTask, TemporalOutbox
from services import journeys
from services.messaging import UNKNOWN_OUTCOME
from tests.support.audit_trail import Stage, ok
from tests.support.console import pending_redemption
from tests.support.helpers import member_body
from tests.support.tickets import routed, ticket_body
from tests.support.waiting import value_when
from workflows import contracts


def fresh(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


async def member(stage: Stage, **overrides: Any) -> str:
    """A member signed up by the shop (its traffic writes no entry)."""
    return str(ok(await stage.shop.post("/api/v1/members", json=member_body(**overrides))).json()["id"])


def journey_body(kind: str, *, name: str = "Audit journey") -> dict[str, Any]:
    return {
        "kind": kind,
        "name": name,
        "steps": [{"id": "mark", "tag": {"add": ["audited"]}}, {"id": "done", "exit": {}}],
    }


async def journey(stage: Stage) -> str:
    kind = fresh("aj")
    ok(await stage.admin.post("/api/v1/journeys", json=journey_body(kind)))
    return kind


def rule_body(name: str | None = None) -> dict[str, Any]:
    return {
        "name": name or fresh("audit_rule"),
        "trigger": {"event": "checked_in"},
        "conditions": {"all": [{"field": "tags", "op": "contains", "value": fresh("nobody")}]},
        "actions": [{"grant_points": {"points": 7}}],
    }


async def rule(stage: Stage) -> str:
    return str(ok(await stage.admin.post("/api/v1/rules", json=rule_body())).json()["id"])


def segment_body() -> dict[str, Any]:
    return {"name": fresh("Audit segment"), "definition": {"tags": {"any": [fresh("seg")]}}}


async def segment(stage: Stage) -> str:
    return str(ok(await stage.admin.post("/api/v1/segments", json=segment_body())).json()["id"])


async def campaign_body(stage: Stage) -> dict[str, Any]:
    """A campaign that waits a day for its start, so it stays scheduled (pausable) for the whole module."""
    start_at = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    return {
        "name": fresh("Audit campaign"),
        "segment_id": await segment(stage),
        "journey_kind": await journey(stage),
        "start_at": start_at,
    }


async def campaign(stage: Stage, *, start: bool = False, paused: bool = False) -> str:
    body = {**await campaign_body(stage), "start": start or paused}
    campaign_id = str(ok(await stage.admin.post("/api/v1/campaigns", json=body)).json()["id"])
    if paused:
        ok(await stage.admin.post(f"/api/v1/campaigns/{campaign_id}/pause"))
    return campaign_id


def field_body(**overrides: Any) -> dict[str, Any]:
    return {"key": fresh("af"), "labels": {"en": "Favourite store", "zh-CN": "常去门店"}, "type": "text", **overrides}


async def member_field(stage: Stage) -> dict[str, Any]:
    field: dict[str, Any] = ok(await stage.admin.post("/api/v1/member-fields", json=field_body())).json()
    return field


async def staff_task(stage: Stage, *, done: bool = False) -> str:
    member_id = uuid.UUID(await member(stage))
    async with stage.sessions() as session:
        task = StaffTask(
            member_id=member_id, title="Call the member", assignee_role="ops", status="done" if done else "open"
        )
        session.add(task)
        await session.commit()
        return str(task.id)


async def running_journey_run(stage: Stage) -> str:
    """A journey run that Temporal knows as running: a workflow on a queue no worker polls, recorded as the
    journey workflow's activity records its runs."""
    kind, member_id = await journey(stage), uuid.uuid4()
    workflow_id = f"journey-{kind}-{member_id}"
    handle = await stage.temporal.start_workflow("AuditIdle", id=workflow_id, task_queue=fresh("idle"))
    run_id = handle.result_run_id
    assert run_id is not None
    progress = journeys.Progress(
        run_id=run_id,
        workflow_id=workflow_id,
        member_id=member_id,
        kind=kind,
        version=1,
        campaign_id=None,
        step="mark",
        status="running",
        at=datetime.now(UTC),
    )
    async with stage.sessions() as session:
        await journeys.record(session, progress)
        await session.commit()
    return run_id


async def parked_row(stage: Stage) -> int:
    async with stage.sessions() as session:
        row = TemporalOutbox(
            action="signal",
            workflow_id=fresh("nowhere"),
            signal_name="nothing",
            payload={},
            attempts=8,
            last_error="the audit test parked it",
            parked_at=datetime.now(UTC),
        )
        session.add(row)
        await session.commit()
        return row.id


async def approval(stage: Stage) -> str:
    """An approval task waiting in the inbox (the RedemptionApproval workflow runs on the module's workers), once
    its workflow takes decisions: the task row commits in an activity a moment before the workflow is pending."""
    task = await pending_redemption(stage.shop, stage.admin, stage.sessions)
    handle = stage.temporal.get_workflow_handle(contracts.redemption_workflow_id(task.redemption_id))

    async def status() -> contracts.ApprovalStatus:
        found: contracts.ApprovalStatus = await handle.query(
            contracts.STATUS_QUERY, result_type=contracts.ApprovalStatus
        )
        return found

    await value_when(status, lambda s: s.status == "pending", what="the approval workflow to be pending")
    return str(task.id)


async def ticket_queue(stage: Stage) -> str:
    """A queue of its own (queues are global rows); its code."""
    code = fresh("q").replace("_", "-")
    body = {"code": code, "name": f"Care {code}", "lead": fresh("lead")}
    ok(await stage.admin.post("/api/v1/ticket-queues", json=body))
    return code


async def ticket(stage: Stage, *, closed: bool = False) -> str:
    """A ticket the helpdesk (the shop's integration key, whose calls write no entry) opened, once its workflow
    has routed it and takes commands; closed by the admin when asked."""
    member_id, queue = await member(stage), await ticket_queue(stage)
    ticket_id = str(ok(await stage.shop.post("/api/v1/tickets", json=ticket_body(member_id, queue))).json()["id"])
    await routed(stage.temporal, ticket_id)
    if closed:
        ok(await stage.admin.post(f"/api/v1/tickets/{ticket_id}/close"))
    return ticket_id


async def unknown_outcome_message(stage: Stage) -> str:
    """A welcome email left `failed` with the outcome unknown, as a worker killed after the hand-over leaves it
    (written directly: the crash is not what the recipe is about)."""
    member_id = uuid.UUID(await member(stage))
    async with stage.sessions() as session:
        message = Message(
            message_key=fresh("audit-crashed-send"),
            member_id=member_id,
            channel="email",
            template="welcome",
            locale="en",
            category="transactional",
            status="failed",
            reason=UNKNOWN_OUTCOME,
            subject="Welcome",
            body="Welcome to the club.",
            claimed_by=fresh("dead-attempt"),
        )
        session.add(message)
        await session.commit()
        return str(message.id)
