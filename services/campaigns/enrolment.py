"""A campaign's members: the snapshot with its deterministic holdout, pages of pending members, screening a
page (consent, running journeys, send cap) and settling it. Every status change is conditional on the member
still being pending, so a retried page never counts or enrols anyone twice."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from sqlalchemy import BigInteger, ColumnElement, Text, case, cast, func, literal, select, update
from sqlalchemy.dialects.postgresql import BIT, insert
from sqlalchemy.ext.asyncio import AsyncSession

from models import Campaign, CampaignMember, JourneyRun, Member
from services import journeys, segments
from services.campaigns.service import get
from services.journeys.definition import Definition, SendStep
from workflows import contracts

# --- snapshot and holdout ----------------------------------------------------------------------------------


def holdout_bucket(campaign_id: uuid.UUID | str, member_id: ColumnElement[uuid.UUID]) -> ColumnElement[int]:
    """0-99 from the first 32 bits of md5("{campaign_id}:{member_id}"): the same member always lands in the
    same bucket for the same campaign, and buckets are uniform. `bucket_of` is the same function in Python."""
    digest = func.md5(literal(f"{campaign_id}:", Text) + cast(member_id, Text))
    first_32_bits = cast(cast(literal("x", Text) + func.substr(digest, 1, 8), BIT(32)), BigInteger)
    return first_32_bits % 100


def bucket_of(campaign_id: uuid.UUID | str, member_id: uuid.UUID | str) -> int:
    return int(hashlib.md5(f"{campaign_id}:{member_id}".encode()).hexdigest()[:8], 16) % 100


async def snapshot(session: AsyncSession, campaign_id: uuid.UUID, *, today: date | None = None) -> int:
    """Add the segment's current members (one INSERT … SELECT); members already in the campaign keep their
    row, so a second snapshot adds only newcomers. Returns how many were added."""
    campaign = await get(session, campaign_id, for_update=True)
    segment = await segments.get(session, campaign.segment_id)
    members = segments.member_query(segments.parse(segment.definition), today=today).subquery()
    held = holdout_bucket(campaign.id, members.c.member_id) < campaign.holdout_percent
    rows = select(
        literal(campaign.id, CampaignMember.campaign_id.type),
        members.c.member_id,
        held,
        case((held, "held_out"), else_="pending"),
    )
    result = await session.execute(
        insert(CampaignMember)
        .from_select(["campaign_id", "member_id", "held_out", "status"], rows)
        .on_conflict_do_nothing(index_elements=["campaign_id", "member_id"])
    )
    campaign.segment_definition = segment.definition
    campaign.snapshot_at = datetime.now(UTC)
    await session.flush()
    return int(getattr(result, "rowcount", 0) or 0)


async def pending_page(
    session: AsyncSession, campaign_id: uuid.UUID, *, after: uuid.UUID | None, limit: int
) -> list[uuid.UUID]:
    stmt = select(CampaignMember.member_id).where(
        CampaignMember.campaign_id == campaign_id, CampaignMember.status == "pending"
    )
    if after is not None:
        stmt = stmt.where(CampaignMember.member_id > after)
    return list((await session.execute(stmt.order_by(CampaignMember.member_id).limit(limit))).scalars().all())


# --- screening and settling a page -------------------------------------------------------------------------


@dataclass
class Plan:
    enroll: list[uuid.UUID] = field(default_factory=list)
    skip: dict[str, list[uuid.UUID]] = field(default_factory=dict)


async def journey_channels(session: AsyncSession, kind: str, version: int) -> set[str]:
    """Channels the journey sends marketing messages on: a member needs consent on at least one of them."""
    found = await journeys.get_version(session, kind, version)
    definition = Definition.model_validate(found.definition)
    return {s.send.channel for s in definition.steps if isinstance(s, SendStep) and s.send.category == "marketing"}


async def screen(session: AsyncSession, campaign: Campaign, member_ids: list[uuid.UUID]) -> Plan:
    """Decide, for the members of a page still pending, who is enrolled and who is skipped and why: no consent
    for any channel the journey markets on, already in a running journey of that kind (other than this
    campaign's own run of them, which a retried page finds), or beyond the send cap."""
    channels = await journey_channels(session, campaign.journey_kind, campaign.journey_version)
    consent: ColumnElement[bool] = literal(True)
    if channels:
        consent = literal(False)
        if "email" in channels:
            consent = consent | Member.consent_email
        if "sms" in channels:
            consent = consent | Member.consent_sms
    own_id = literal(contracts.campaign_member_workflow_id(campaign.id, ""), Text) + cast(
        CampaignMember.member_id, Text
    )
    busy = (
        select(JourneyRun.run_id)
        .where(
            JourneyRun.member_id == CampaignMember.member_id,
            JourneyRun.kind == campaign.journey_kind,
            JourneyRun.status == "running",
            JourneyRun.workflow_id != own_id,
        )
        .exists()
    )
    rows = (
        await session.execute(
            select(CampaignMember.member_id, consent.label("consent"), busy.label("busy"))
            .join(Member, Member.id == CampaignMember.member_id)
            .where(
                CampaignMember.campaign_id == campaign.id,
                CampaignMember.member_id.in_(member_ids),
                CampaignMember.status == "pending",
            )
            .order_by(CampaignMember.member_id)
        )
    ).all()
    room: int | None = None
    if campaign.send_cap is not None:
        room = max(0, campaign.send_cap - await _count(session, campaign.id, "enrolled"))
    plan = Plan()
    for row in rows:
        reason = None if row.consent else "no_consent"
        reason = reason or ("already_in_journey" if row.busy else None)
        if reason is None and room is not None:
            reason = "send_cap" if room == 0 else None
            room = room - 1 if reason is None else room
        if reason is None:
            plan.enroll.append(row.member_id)
        else:
            plan.skip.setdefault(reason, []).append(row.member_id)
    return plan


async def _count(session: AsyncSession, campaign_id: uuid.UUID, status: str) -> int:
    stmt = select(func.count()).where(CampaignMember.campaign_id == campaign_id, CampaignMember.status == status)
    return int((await session.execute(stmt)).scalar_one())


def _pending(campaign_id: uuid.UUID, member_ids: list[uuid.UUID]) -> ColumnElement[bool]:
    return (
        (CampaignMember.campaign_id == campaign_id)
        & CampaignMember.member_id.in_(member_ids)
        & (CampaignMember.status == "pending")
    )


async def mark_skipped(session: AsyncSession, campaign_id: uuid.UUID, skip: dict[str, list[uuid.UUID]]) -> int:
    changed = 0
    for reason, ids in skip.items():
        result = await session.execute(
            update(CampaignMember).where(_pending(campaign_id, ids)).values(status="skipped", skip_reason=reason)
        )
        changed += int(getattr(result, "rowcount", 0) or 0)
    return changed


async def mark_enrolled(session: AsyncSession, campaign_id: uuid.UUID, member_ids: list[uuid.UUID]) -> int:
    """Only pending members move: a member settled by an earlier attempt is not counted again."""
    if not member_ids:
        return 0
    workflow = literal(contracts.campaign_member_workflow_id(campaign_id, ""), Text) + cast(
        CampaignMember.member_id, Text
    )
    result = await session.execute(
        update(CampaignMember)
        .where(_pending(campaign_id, member_ids))
        .values(status="enrolled", enrolled_at=func.now(), workflow_id=workflow)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def mark_failed(session: AsyncSession, campaign_id: uuid.UUID, errors: dict[uuid.UUID, str]) -> int:
    changed = 0
    for member_id, error in errors.items():
        result = await session.execute(
            update(CampaignMember).where(_pending(campaign_id, [member_id])).values(status="failed", error=error[:2000])
        )
        changed += int(getattr(result, "rowcount", 0) or 0)
    return changed


async def cancel_pending(session: AsyncSession, campaign_id: uuid.UUID) -> int:
    result = await session.execute(
        update(CampaignMember)
        .where(CampaignMember.campaign_id == campaign_id, CampaignMember.status == "pending")
        .values(status="cancelled")
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def enrolled_page(
    session: AsyncSession, campaign_id: uuid.UUID, *, after: uuid.UUID | None, limit: int
) -> list[uuid.UUID]:
    stmt = select(CampaignMember.member_id).where(
        CampaignMember.campaign_id == campaign_id, CampaignMember.status == "enrolled"
    )
    if after is not None:
        stmt = stmt.where(CampaignMember.member_id > after)
    return list((await session.execute(stmt.order_by(CampaignMember.member_id).limit(limit))).scalars().all())
