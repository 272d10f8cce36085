"""Members in challenges: joining (at sign-up, when a window opens, or by opting in), progress from each
event in the event's own transaction (recorded here, then signalled to the run's workflow through the
outbox), and settling: a completion pays once and awards the badge; the deadline ends a run as failed.

Exactly once: a run leaves `active` once, under its row's lock; the points carry the ledger key
`challenge:{run}:reward` and the coupon the issue key `challenge:{run}`, so even a retry that got past the
lock could not pay twice."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, time
from decimal import Decimal

from sqlalchemy import func, select, true, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import Conflict, NotFound
from core.settings import get_settings
from core.timeutil import add_months
from models import Challenge, Member, MemberBadge, MemberChallenge
from services import members
from services.challenges import progress as measuring
from services.challenges.definition import ChallengeDefinition, Enrolment, RelativeWindow, window_for
from services.challenges.service import get, parse
from services.loyalty import ledger
from services.members import scans
from services.platform import outbox
from services.rewards import coupons
from workflows import contracts

# The events that can move a goal; any other event reads no challenge.
PROGRESS_EVENTS = frozenset({"order_completed", "checked_in", "profile_completed"})
_EMPTY = measuring.Facts(False, 0, Decimal(0), [])


def _start(run: MemberChallenge, *, task_queue: str, met: bool = False) -> contracts.WorkflowStart:
    inp = contracts.ChallengeInput(
        member_challenge_id=str(run.id),
        challenge_id=str(run.challenge_id),
        member_id=str(run.member_id),
        deadline=run.deadline,
        window_start=run.window_start,
        met_at_start=met,
    )
    return contracts.challenge_start(inp, task_queue=task_queue)


async def _join(
    session: AsyncSession, challenge: Challenge, member: Member, *, at: datetime, measure: bool
) -> tuple[MemberChallenge, bool, bool] | None:
    """(run, joined now, goals already met), or None when the window has closed. `measure=False` for a member
    with no history yet (a sign-up), whose progress is all zeros."""
    definition = parse(challenge.definition)
    start, deadline = window_for(definition.window, at)
    if deadline <= at:
        return None
    found = _EMPTY
    if measure:
        found = await measuring.facts(session, member.id, member.timezone, start, min(deadline, at))
    entries, met = measuring.progress(definition.goals, found)
    run_id = (
        await session.execute(
            insert(MemberChallenge)
            .values(
                id=uuid.uuid4(),
                challenge_id=challenge.id,
                member_id=member.id,
                window_start=start,
                deadline=deadline,
                status="active",
                progress=entries,
                enrolled_at=at,
            )
            .on_conflict_do_nothing(constraint="uq_member_challenges_window")
            .returning(MemberChallenge.id)
        )
    ).scalar_one_or_none()
    joined = run_id is not None
    stmt = select(MemberChallenge).where(
        MemberChallenge.challenge_id == challenge.id,
        MemberChallenge.member_id == member.id,
        MemberChallenge.window_start == start,
    )
    run = (await session.execute(stmt)).scalar_one()
    if joined and (member.challenges_until is None or member.challenges_until < deadline):
        member.challenges_until = deadline
    return run, joined, met


async def on_signup(session: AsyncSession, member: Member, *, task_queue: str) -> int:
    """Join the new member to every active sign-up challenge (a starter pack); returns how many."""
    rows = (
        await session.execute(
            select(Challenge).where(Challenge.enrolment == Enrolment.SIGNUP.value, Challenge.active.is_(true()))
        )
    ).scalars()
    starts = []
    at = member.created_at or datetime.now(UTC)
    for challenge in rows:
        joined = await _join(session, challenge, member, at=at, measure=False)
        if joined is not None and joined[1]:
            starts.append(_start(joined[0], task_queue=task_queue))
    await outbox.enqueue_all(session, starts)
    return len(starts)


async def opt_in(
    session: AsyncSession,
    challenge_id: uuid.UUID,
    member_id: uuid.UUID,
    *,
    task_queue: str,
    now: datetime | None = None,
) -> tuple[MemberChallenge, bool]:
    """The member joins an opt-in challenge (the portal's button): (run, joined now); joining again is a no-op."""
    challenge = await get(session, challenge_id)
    if not challenge.active or challenge.enrolment != Enrolment.OPT_IN.value:
        raise Conflict("this challenge cannot be joined", code="challenge_not_open")
    member = await members.get_active(session, member_id, for_update=True)
    earlier = await _latest_run(session, challenge.id, member.id)
    if earlier is not None and (
        earlier.status == "active" or isinstance(parse(challenge.definition).window, RelativeWindow)
    ):
        return earlier, False  # still running, or a relative window: each member takes it once
    at = now or datetime.now(UTC)
    joined = await _join(session, challenge, member, at=at, measure=True)
    if joined is None:
        raise Conflict("this challenge has ended", code="challenge_ended")
    run, new, met = joined
    if new:
        await outbox.enqueue_start(session, _start(run, task_queue=task_queue, met=met))
    await session.flush()
    return run, new


async def _latest_run(session: AsyncSession, challenge_id: uuid.UUID, member_id: uuid.UUID) -> MemberChallenge | None:
    stmt = select(MemberChallenge).where(
        MemberChallenge.challenge_id == challenge_id, MemberChallenge.member_id == member_id
    )
    return (await session.execute(stmt.order_by(MemberChallenge.enrolled_at.desc()).limit(1))).scalar_one_or_none()


async def on_event(session: AsyncSession, member: Member, event: str) -> int:
    """Measure the member's open runs again after `event` (in its transaction, the member row locked) and
    signal each run whose progress moved. Costs nothing for a member in no open challenge."""
    now = datetime.now(UTC)
    if event not in PROGRESS_EVENTS or member.challenges_until is None or member.challenges_until <= now:
        return 0
    rows = await session.execute(
        select(MemberChallenge, Challenge.definition)
        .join(Challenge, Challenge.id == MemberChallenge.challenge_id)
        .where(MemberChallenge.member_id == member.id, MemberChallenge.status == "active")
    )
    signals = []
    for run, raw in rows:
        definition = parse(raw)
        found = await measuring.facts(session, member.id, member.timezone, run.window_start, run.deadline)
        entries, met = measuring.progress(definition.goals, found)
        if entries == run.progress:
            continue
        run.progress = entries
        progress = contracts.ChallengeProgressSignal(event=event, goals_met=met)
        signals.append(contracts.challenge_progress_signal(run.challenge_id, run.member_id, run.window_start, progress))
    await outbox.enqueue_all(session, signals)
    return len(signals)


async def settle(
    session: AsyncSession, run_id: uuid.UUID, *, deadline_passed: bool, now: datetime | None = None
) -> contracts.SettleOutcome:
    """Complete the run if every goal is met (pay and award), fail it once the deadline has passed, else leave
    it active. A run already settled answers what it became, paying nothing again."""
    owner = (
        await session.execute(select(MemberChallenge.member_id).where(MemberChallenge.id == run_id))
    ).scalar_one_or_none()
    if owner is None:
        raise NotFound(f"member challenge {run_id} not found", code="member_challenge_not_found")
    # The member first, then the run: the order an event's transaction takes them in (it locks the member and
    # then measures the run), so a completion and an event at the same moment queue instead of deadlocking.
    member = await members.get(session, owner, for_update=True)
    run = (
        await session.execute(select(MemberChallenge).where(MemberChallenge.id == run_id).with_for_update())
    ).scalar_one()
    if run.status != "active":
        return await _outcome(session, run)
    now = now or datetime.now(UTC)
    definition = parse((await get(session, run.challenge_id)).definition)
    found = await measuring.facts(session, member.id, member.timezone, run.window_start, min(now, run.deadline))
    entries, met = measuring.progress(definition.goals, found)
    run.progress = entries
    if met and member.erased_at is None:
        return await _complete(session, run, definition, now)
    if deadline_passed or now >= run.deadline or member.erased_at is not None:
        run.status, run.ended_at = "failed", now
        await session.flush()
        return contracts.SettleOutcome(status="failed")
    await session.flush()
    return contracts.SettleOutcome(status="active")


async def _complete(
    session: AsyncSession, run: MemberChallenge, definition: ChallengeDefinition, now: datetime
) -> contracts.SettleOutcome:
    reward = definition.reward
    if reward.points > 0:
        posted = await ledger.credit(
            session,
            member_id=run.member_id,
            points=reward.points,
            kind=ledger.TxKind.EARN,
            reason=f"Challenge completed: {definition.title_en}",
            idempotency_key=f"challenge:{run.id}:reward",
            expires_at=add_months(now, get_settings().points.expiry_months),
            reference=("challenge", str(run.id)),
        )
        run.reward_transaction_id = posted.transaction_id
    if reward.coupon is not None:
        try:
            issued = await coupons.issue(
                session,
                coupons.CouponIssue(
                    template_code=reward.coupon, member_id=run.member_id, issue_key=f"challenge:{run.id}"
                ),
            )
            run.coupon_id = issued.coupon.id
        except (Conflict, NotFound):  # the template was switched off or its limit reached: the points still pay
            run.coupon_id = None
    if definition.badge is not None:
        badge = definition.badge
        await session.execute(
            insert(MemberBadge)
            .values(
                member_id=run.member_id,
                code=badge.code,
                name_en=badge.name_en,
                name_zh_cn=badge.name_zh_cn,
                icon=badge.icon,
                member_challenge_id=run.id,
                earned_at=now,
            )
            .on_conflict_do_nothing(index_elements=["member_id", "code"])
        )
    run.status, run.ended_at = "completed", now
    await session.flush()
    return await _outcome(session, run, definition)


async def _outcome(
    session: AsyncSession, run: MemberChallenge, definition: ChallengeDefinition | None = None
) -> contracts.SettleOutcome:
    if run.status != "completed":
        return contracts.SettleOutcome(status=run.status)
    definition = definition or parse((await get(session, run.challenge_id)).definition)
    return contracts.SettleOutcome(
        status="completed",
        points=definition.reward.points,
        coupon_id=str(run.coupon_id) if run.coupon_id else None,
        badge=definition.badge.code if definition.badge else None,
    )


async def enrol_due(
    session: AsyncSession, day: date, *, task_queue: str, page_size: int = scans.SCAN_PAGE
) -> dict[str, int]:
    """Join every member (never an erased one) to the active challenges whose window opens on `day` (UTC):
    the first of the month for a monthly one, the start date for a dates window. Safe to run twice."""
    opening = datetime.combine(day, time(), tzinfo=UTC)
    due: list[Challenge] = []
    for challenge in (
        await session.execute(
            select(Challenge).where(Challenge.enrolment == Enrolment.WINDOW_START.value, Challenge.active.is_(true()))
        )
    ).scalars():
        if window_for(parse(challenge.definition).window, opening)[0] == opening:
            due.append(challenge)
    enrolled: dict[str, int] = {}
    for challenge in due:
        enrolled[challenge.code] = await _enrol_all(session, challenge, opening, task_queue, page_size)
    return enrolled


async def _enrol_all(
    session: AsyncSession, challenge: Challenge, opening: datetime, task_queue: str, page_size: int
) -> int:
    """Every member not erased, a page at a time (keyset on the id): one INSERT of the page's runs (a member
    already in this window is skipped), one UPDATE of their latest open deadline, one INSERT of the starts."""
    definition = parse(challenge.definition)
    start, deadline = window_for(definition.window, opening)
    entries, _ = measuring.progress(definition.goals, _EMPTY)
    count, after = 0, None
    while True:
        page = select(Member.id).where(Member.erased_at.is_(None)).order_by(Member.id).limit(page_size)
        ids = list((await session.execute(page if after is None else page.where(Member.id > after))).scalars())
        if not ids:
            return count
        after = ids[-1]
        values = [
            {
                "id": uuid.uuid4(),
                "challenge_id": challenge.id,
                "member_id": member_id,
                "window_start": start,
                "deadline": deadline,
                "status": "active",
                "progress": entries,
                "enrolled_at": opening,
            }
            for member_id in ids
        ]
        joined = (
            await session.execute(
                insert(MemberChallenge)
                .values(values)
                .on_conflict_do_nothing(constraint="uq_member_challenges_window")
                .returning(MemberChallenge.id, MemberChallenge.member_id)
            )
        ).all()
        if not joined:
            continue
        await session.execute(
            update(Member)
            .where(Member.id.in_([row.member_id for row in joined]))
            .values(challenges_until=func.greatest(func.coalesce(Member.challenges_until, deadline), deadline))
            .execution_options(synchronize_session=False)
        )
        starts = [
            contracts.challenge_start(
                contracts.ChallengeInput(
                    member_challenge_id=str(row.id),
                    challenge_id=str(challenge.id),
                    member_id=str(row.member_id),
                    deadline=deadline,
                    window_start=start,
                ),
                task_queue=task_queue,
            )
            for row in joined
        ]
        await outbox.enqueue_all(session, starts)
        count += len(joined)


async def member_runs(session: AsyncSession, member_id: uuid.UUID) -> Sequence[tuple[MemberChallenge, Challenge]]:
    """The member's runs, newest first, with their challenge (for the 360 view and the portal)."""
    rows = await session.execute(
        select(MemberChallenge, Challenge)
        .join(Challenge, Challenge.id == MemberChallenge.challenge_id)
        .where(MemberChallenge.member_id == member_id)
        .order_by(MemberChallenge.enrolled_at.desc())
        .limit(50)
    )
    return [(run, challenge) for run, challenge in rows]


async def member_badges(session: AsyncSession, member_id: uuid.UUID) -> list[MemberBadge]:
    stmt = select(MemberBadge).where(MemberBadge.member_id == member_id).order_by(MemberBadge.earned_at)
    return list((await session.execute(stmt)).scalars())


async def open_to_join(session: AsyncSession, member_id: uuid.UUID, *, now: datetime | None = None) -> list[Challenge]:
    """Active opt-in challenges whose window is open and that the member has not joined: in this window for a
    calendar one, ever for a relative one (each member takes it once)."""
    now = now or datetime.now(UTC)
    joined = select(MemberChallenge.window_start).where(
        MemberChallenge.member_id == member_id, MemberChallenge.challenge_id == Challenge.id
    )
    rows = await session.execute(
        select(Challenge, func.array(joined.scalar_subquery()))
        .where(Challenge.enrolment == Enrolment.OPT_IN.value, Challenge.active.is_(true()))
        .order_by(Challenge.code)
    )
    result = []
    for challenge, starts in rows:
        window = parse(challenge.definition).window
        start, deadline = window_for(window, now)
        taken = bool(starts) if isinstance(window, RelativeWindow) else start in (starts or [])
        if deadline > now and not taken:
            result.append(challenge)
    return result
