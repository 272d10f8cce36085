"""The built-in behaviour awards that replaced the hard-coded ones: seeded once, editable, no award made twice."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from core.settings import get_settings
from core.timeutil import add_months
from models import LedgerAccount, LedgerEntry, LedgerTransaction, Rule
from services import rules
from services.loyalty import ledger
from tests.support.clock import days_ago
from tests.support.helpers import ApiClient
from tests.support.rules import Sessions, new_scope, posted, scoped_member
from tests.support.rules import event_body as _event
from tests.support.rules import post_event as _post


async def test_builtin_award_rules_are_seeded_once_and_editable(marketer: ApiClient, sessions: Sessions) -> None:
    async with sessions() as session:
        assert await rules.seed_builtins(session) == 0  # the app's start-up seeded them already
        names = (await session.execute(select(Rule.name).where(Rule.builtin.is_(True)))).scalars().all()
    assert set(names) >= {
        "award_signed_up",
        "award_checked_in",
        "award_profile_completed",
        "award_review_posted",
        "award_shared",
    }
    listed = (await marketer.get("/api/v1/rules?trigger=checked_in")).json()
    [builtin] = [r for r in listed if r["name"] == "award_checked_in"]
    assert builtin["definition"]["limit"] == "once_per_day"
    assert builtin["definition"]["actions"] == [
        {"grant_points": {"points": get_settings().points.awards["checked_in"]}}
    ]


async def test_an_award_made_before_the_upgrade_is_not_made_again(shop: ApiClient, sessions: Sessions) -> None:
    """The hard-coded award of today, under its old ledger key, counts against the built-in rule's limit."""
    member_id = await scoped_member(shop, sessions, new_scope(), timezone="Asia/Shanghai")
    at = days_ago(10, hour=3)  # 11:00 in Shanghai, the same day (relative: old events are refused)
    async with sessions() as session:  # exactly what services/events.py posted before rules
        await ledger.credit(
            session,
            member_id=uuid.UUID(member_id),
            points=10,
            kind=ledger.TxKind.EARN,
            reason="Points for checked in",
            idempotency_key=f"award:checked_in:{member_id}:{at.date().isoformat()}",
            reference=("event", "checked_in"),
            expires_at=add_months(at, 12),
        )
        await ledger.credit(
            session,
            member_id=uuid.UUID(member_id),
            points=999,  # an award under settings that were different that day
            kind=ledger.TxKind.EARN,
            reason="Points for profile completed",
            idempotency_key=f"award:profile_completed:{member_id}",
            reference=("event", "profile_completed"),
            expires_at=add_months(at, 12),
        )
        await session.commit()
    same_day = await _post(shop, _event(member_id, "checked_in", at + timedelta(hours=2)))
    assert (same_day["points_awarded"], same_day["award_status"]) == (0, "already_awarded")
    profile = await _post(shop, _event(member_id, "profile_completed", at))
    assert (profile["points_awarded"], profile["award_status"]) == (0, "already_awarded")
    next_day = await _post(shop, _event(member_id, "checked_in", at + timedelta(days=1)))
    assert (next_day["points_awarded"], next_day["award_status"]) == (10, "awarded")
    assert await posted(sessions, member_id) == 10 + 999 + 10


async def test_an_edited_builtin_award_keeps_its_limit_and_an_added_grant_gets_its_own_key(
    marketer: ApiClient, shop: ApiClient, sessions: Sessions
) -> None:
    [builtin] = [r for r in (await marketer.get("/api/v1/rules?trigger=shared")).json() if r["name"] == "award_shared"]
    original = builtin["definition"]
    edited = dict(original, actions=[*original["actions"], {"grant_points": {"points": 3, "reason": "Share bonus"}}])
    assert (await marketer.put(f"/api/v1/rules/{builtin['id']}", json=edited)).status_code == 200
    try:
        member_id = await scoped_member(shop, sessions, new_scope())
        first = await _post(shop, _event(member_id, "shared"))
        second = await _post(shop, _event(member_id, "shared"))
        assert (first["points_awarded"], second["award_status"]) == (5 + 3, "already_awarded")
        async with sessions() as session:
            keys = (
                await session.execute(
                    select(LedgerTransaction.idempotency_key)
                    .join(LedgerEntry, LedgerEntry.transaction_id == LedgerTransaction.id)
                    .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
                    .where(LedgerAccount.member_id == uuid.UUID(member_id))
                    .order_by(LedgerTransaction.id)
                )
            ).scalars()
            day = datetime.now(UTC).astimezone(ZoneInfo("Asia/Shanghai")).date().isoformat()
            assert list(keys) == [
                f"award:shared:{member_id}:{day}",
                f"rule:{builtin['id']}:{member_id}:d:{day}:1",
            ]
    finally:
        assert (await marketer.put(f"/api/v1/rules/{builtin['id']}", json=original)).status_code == 200
