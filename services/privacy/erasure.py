"""Erasure of a member (the right to be forgotten), driven by the personal-data inventory: every personal
column of the member's rows is nulled, pseudonymised, redacted or deleted as the inventory says, in one
transaction; the member is marked erased, so nothing is sent to them again and new events and orders for them
are refused. Orders, the ledger and coupons stay, as financial records, under the (now pseudonymous) member id.

Erasing again is allowed and does the same work over: it scrubs anything written since (a message an
in-flight send recorded) and stops workflows still running; the first erasure's time stays. The workflows are
stopped after the commit (`stop_workflows`), so the messages their cancellation triggers (a withdrawn
redemption tells the member) meet an erased member and are suppressed."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, StringConstraints
from sqlalchemy import TextClause, Uuid, bindparam, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from core.errors import AppError, InvalidInput
from models import Approval, CampaignMember, JourneyRun, Member, MemberField
from services import members
from services.members.personal_data import REDACTED, SHOP_EVENT_TYPES, Personal, Table, Treatment, member_tables
from services.platform import audit
from services.platform.audit import Actor
from services.privacy.records import cut_member_records
from services.rewards import approvals
from workflows import contracts

ERASED_REASON = "the member was erased"


class ErasureRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=500)]


@dataclass
class ErasureOutcome:
    member_id: uuid.UUID
    erased_at: datetime
    first: bool
    # Rows changed per table (deleted rows for tables whose personal column is deleted).
    rows: dict[str, int]
    runs: list[tuple[str, str]] = field(default_factory=list)  # (workflow id, run id) still running
    redemptions: list[uuid.UUID] = field(default_factory=list)  # waiting for approval
    stopped: int = 0
    not_stopped: list[str] = field(default_factory=list)  # workflow ids Temporal could not be reached for


def _value(column: str, decision: Personal) -> str:
    if decision.value is not None:
        return decision.value
    if decision.treatment == Treatment.REDACT:
        return f"CASE WHEN {column} IS NULL THEN NULL ELSE '{REDACTED}' END"
    return "NULL"


def _statements(name: str, table: Table) -> list[str]:
    """The SQL that erases the member's rows of one table (fixed text from the inventory)."""
    assert table.member is not None
    if any(p.treatment == Treatment.DELETE for p in table.personal.values()):
        return [f"DELETE FROM {name} WHERE {table.member}"]
    # One UPDATE per row condition, touching only the rows it names (the ledger's trigger refuses any other).
    groups: dict[str | None, list[str]] = {}
    for column, decision in table.personal.items():
        groups.setdefault(decision.only, []).append(f"{column} = {_value(column, decision)}")
    return [
        f"UPDATE {name} SET {', '.join(sets)} WHERE {table.member}" + (f" AND {only}" if only else "")
        for only, sets in groups.items()
    ]


def _refuse_personal_reason(reason: str, member: Member) -> None:
    """The reason is kept in the audit log, which must not hold what was erased."""
    lowered = reason.casefold()
    quoted = [v for v in (member.name, member.email, member.phone, member.external_id) if v and v.casefold() in lowered]
    if quoted:
        message = "the reason must not repeat the member's name, email, phone or external id: it stays in the audit log"
        raise InvalidInput(message, code="reason_has_personal_data", details=[{"field": "reason", "message": message}])


async def _kept_fields(session: AsyncSession) -> list[str]:
    """Custom fields whose values survive erasure: the defined ones that hold no personal data."""
    stmt = select(MemberField.key).where(MemberField.personal_data.is_(False))
    return list((await session.execute(stmt)).scalars().all())


async def _scrub(session: AsyncSession, member_id: uuid.UUID) -> dict[str, int]:
    params: dict[str, Any] = {
        "member_id": member_id,
        "kept_fields": await _kept_fields(session),
        "shop_event_types": list(SHOP_EVENT_TYPES),
    }
    rows: dict[str, int] = {}
    for name, table in member_tables().items():
        if name == "audit_log":
            continue  # redacted last, after this erasure's own entry is written (which keeps its reason)
        for sql in _statements(name, table):
            result = await session.execute(_bound(sql, params))
            rows[name] = rows.get(name, 0) + int(getattr(result, "rowcount", 0) or 0)
    return rows


def _bound(sql: str, params: dict[str, Any]) -> TextClause:
    """The statement with the parameters it uses; the member id typed, so `CAST(:member_id AS text)` works."""
    used = {key: value for key, value in params.items() if f":{key}" in sql}
    member = [bindparam("member_id", used.pop("member_id"), type_=Uuid())] if "member_id" in used else []
    return text(sql).bindparams(*member, **used)


async def _redact_audit(session: AsyncSession, member_id: uuid.UUID) -> int:
    """Reasons people gave for earlier actions on the member (adjustments) go; erasure entries keep theirs."""
    table = member_tables()["audit_log"]
    sql = _statements("audit_log", table)[0]
    result = await session.execute(_bound(sql, {"member_id": member_id}))
    return int(getattr(result, "rowcount", 0) or 0)


async def erase(session: AsyncSession, member_id: uuid.UUID, data: ErasureRequest, *, actor: Actor) -> ErasureOutcome:
    """Erase in this transaction (the caller commits, then calls `stop_workflows`). 404 for an unknown id."""
    member = await members.get(session, member_id, for_update=True)
    _refuse_personal_reason(data.reason, member)
    first = member.erased_at is None
    # Waits for a marketing send of this member being prepared right now, so its row is there to scrub.
    await session.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(f"messages:{member_id}", 0))))
    imported = await cut_member_records(session, member.external_id) if first else 0
    rows = await _scrub(session, member_id)
    rows["import_chunks"] = imported
    await session.execute(
        update(Member).where(Member.id == member_id).values(erased_at=func.coalesce(Member.erased_at, func.now()))
    )
    rows["campaign_members"] = await _cancel_pending_enrolments(session, member_id)
    erased_at = (await session.execute(select(Member.erased_at).where(Member.id == member_id))).scalar_one()
    assert erased_at is not None
    outcome = ErasureOutcome(
        member_id=member_id,
        erased_at=erased_at,
        first=first,
        rows=rows,
        runs=await _running(session, member_id),
        redemptions=await _awaiting_approval(session, member_id),
    )
    rows["audit_log"] = await _redact_audit(session, member_id)
    await audit.record(
        session,
        actor,
        action="member.erase",
        target_type="member",
        target_id=str(member_id),
        details={"reason": data.reason, "first": first, "rows": rows},
    )
    return outcome


async def _cancel_pending_enrolments(session: AsyncSession, member_id: uuid.UUID) -> int:
    """Campaigns not yet at this member never enrol them (enrolled ones run journeys, cancelled below)."""
    result = await session.execute(
        update(CampaignMember)
        .where(CampaignMember.member_id == member_id, CampaignMember.status == "pending")
        .values(status="cancelled")
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def _running(session: AsyncSession, member_id: uuid.UUID) -> list[tuple[str, str]]:
    stmt = select(JourneyRun.workflow_id, JourneyRun.run_id).where(
        JourneyRun.member_id == member_id, JourneyRun.status == "running"
    )
    return [(row.workflow_id, row.run_id) for row in await session.execute(stmt)]


async def _awaiting_approval(session: AsyncSession, member_id: uuid.UUID) -> list[uuid.UUID]:
    stmt = select(Approval.redemption_id).where(Approval.member_id == member_id, Approval.status == "pending")
    return list((await session.execute(stmt)).scalars().all())


async def stop_workflows(temporal: Client, outcome: ErasureOutcome) -> ErasureOutcome:
    """Cancel the member's running journeys (campaign runs included) and withdraw redemptions waiting for an
    approver (their hold is voided). A run that already ended counts as stopped; one Temporal could not be
    reached for is listed in `not_stopped`, and erasing again retries it."""
    for workflow_id, run_id in outcome.runs:
        try:
            await temporal.get_workflow_handle(workflow_id, run_id=run_id).cancel()
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                outcome.not_stopped.append(workflow_id)
                continue
        outcome.stopped += 1
    for redemption_id in outcome.redemptions:
        try:
            await approvals.send_update(
                temporal, redemption_id, contracts.CANCEL_UPDATE, contracts.CancelRequest(reason=ERASED_REASON)
            )
        except AppError:
            pass  # decided meanwhile: nothing left to withdraw
        except RPCError:
            outcome.not_stopped.append(contracts.redemption_workflow_id(redemption_id))
            continue
        outcome.stopped += 1
    return outcome
