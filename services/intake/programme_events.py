"""The programme extras' events rules and journeys react to: `referral_rewarded` (for the referrer, when a
referral pays out) and a paid plan's `plan_started`, `plan_renewed` and `plan_ended`.

Each is recorded as the member's event and handed to journeys and rules in the transaction of the change that
causes it (the referral's payout, the plan order, the expiry or the cancellation), the way services.care.triggers
records a ticket's events. Each occurrence has a key (`referral_rewarded:{referral}`, `plan_started:{membership}`,
`plan_renewed:{membership}:{order}`, `plan_ended:{membership}`): the member event's unique key makes a retried
activity or a second delivery record, and so trigger, nothing. They carry ids, codes and numbers only, never
personal data; nothing is recorded for an erased member."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models import Member, Membership, Plan, Referral
from services import journeys, members, rules
from services.members import events as member_events

REFERRAL_REWARDED = "referral_rewarded"
PLAN_STARTED = "plan_started"
PLAN_RENEWED = "plan_renewed"
PLAN_ENDED = "plan_ended"


async def emit(
    session: AsyncSession,
    member: Member,
    trigger: str,
    key: str,
    *,
    at: datetime,
    properties: dict[str, Any],
    task_queue: str,
    member_locked: bool = False,
) -> bool:
    """Record `trigger` for the member and run the journeys and rules it reaches; False when it was recorded
    before (a retry) or the member was erased. `member_locked`: the caller holds the member's row lock."""
    if member.erased_at is not None:
        return False
    if not await member_events.record_once(session, member.id, trigger, key, at, properties):
        return False
    facts = {f"event.{name}": value for name, value in properties.items() if name in _FACT_NAMES}
    await journeys.on_event(session, member, trigger, task_queue=task_queue, properties=properties, event_facts=facts)
    event = rules.RuleEvent(trigger, member, key, at, facts=facts, properties=properties, member_locked=member_locked)
    await rules.evaluate_event(session, event, task_queue=task_queue)
    return True


# The properties conditions may test (the rules' and journeys' event fields); ids stay in the event only.
_FACT_NAMES = frozenset({"points", "reward", "plan", "reason"})


def reward_kind(referral: Referral) -> str:
    """What the referrer was given: points, a coupon, or none (a coupon template switched off, no points set)."""
    if referral.referrer_coupon_id is not None:
        return "coupon"
    return "points" if referral.referrer_points > 0 else "none"


async def referral_rewarded(
    session: AsyncSession, referral_id: uuid.UUID, *, task_queue: str, now: datetime | None = None
) -> bool:
    """The referral was rewarded: tell the referrer's rules and journeys, once. False for a referral that is
    not rewarded (cancelled, still waiting) or was announced before."""
    referral = (await session.execute(select(Referral).where(Referral.id == referral_id))).scalar_one()
    if referral.status != "rewarded":
        return False
    member = await members.get(session, referral.referrer_id)
    properties = {"referral_id": str(referral.id), "points": referral.referrer_points, "reward": reward_kind(referral)}
    return await emit(
        session,
        member,
        REFERRAL_REWARDED,
        f"{REFERRAL_REWARDED}:{referral.id}",
        at=referral.decided_at or now or datetime.now(UTC),
        properties=properties,
        task_queue=task_queue,
    )


def _plan_properties(membership: Membership, plan: Plan) -> dict[str, Any]:
    return {"membership_id": str(membership.id), "plan": plan.code}


async def plans_bought(
    session: AsyncSession,
    member: Member,
    bought: list[Membership],
    order_id: uuid.UUID,
    *,
    at: datetime,
    task_queue: str,
) -> int:
    """An order's plan lines started or renewed these memberships (services.plans.on_order): `plan_started`
    for a first membership, `plan_renewed` for a renewal (an active one extended, or an ended one continued).
    The caller holds the member's row lock. Returns how many events were recorded."""
    if not bought:
        return 0
    plan_ids = {membership.plan_id for membership in bought}
    by_id = {p.id: p for p in (await session.execute(select(Plan).where(Plan.id.in_(plan_ids)))).scalars()}
    fired = 0
    for membership in bought:
        first = membership.renewals == 0 and membership.renewed_from_id is None
        trigger, key = (
            (PLAN_STARTED, f"{PLAN_STARTED}:{membership.id}")
            if first
            else (PLAN_RENEWED, f"{PLAN_RENEWED}:{membership.id}:{order_id}")
        )
        properties = _plan_properties(membership, by_id[membership.plan_id])
        fired += await emit(
            session,
            member,
            trigger,
            key,
            at=at,
            properties=properties,
            task_queue=task_queue,
            member_locked=True,
        )
    return fired


async def plan_ended(session: AsyncSession, membership_id: uuid.UUID, *, task_queue: str) -> bool:
    """The membership's benefits ended: `plan_ended` with why (its term ran out: expired; staff or the shop
    cancelled it: cancelled), once. False while it is still active (a renewal moved its end)."""
    row = (
        await session.execute(
            select(Membership, Plan).join(Plan, Plan.id == Membership.plan_id).where(Membership.id == membership_id)
        )
    ).one()
    membership, plan = row
    if membership.status == "active" or membership.ended_at is None:
        return False
    member = await members.get(session, membership.member_id)
    properties = _plan_properties(membership, plan) | {
        "reason": "cancelled" if membership.status == "cancelled" else "expired"
    }
    return await emit(
        session,
        member,
        PLAN_ENDED,
        f"{PLAN_ENDED}:{membership.id}",
        at=membership.ended_at,
        properties=properties,
        task_queue=task_queue,
    )
