"""The SQL of firings for one event: claim every matched rule in one statement, find what blocked the ones that
could not be claimed in one query, and write every firing's results in one statement.

A claim is a row of `rule_firings`, unique per (rule, version, event) and per (rule, member, limit key):
ON CONFLICT DO NOTHING makes a second claim, also a concurrent one (it waits for the first transaction),
do nothing, so a rule acts at most once per event and once per limit. Arrays carry the rows, so the
statement text is the same for 1 or 25 rules and is prepared once per connection."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from models import RuleFiring

# The claim also asks, in the same round trip, which pre-rules award keys of built-in awards were used.
_CLAIM = text(
    """
    WITH claimed AS (
        INSERT INTO rule_firings (id, rule_id, version, event_key, limit_key, member_id, trigger, fired_at, results)
        SELECT c.id, c.rule_id, c.version, CAST(:event_key AS text), c.limit_key, CAST(:member_id AS uuid),
               CAST(:trigger AS text), CAST(:fired_at AS timestamptz), '[]'::jsonb
        FROM unnest(CAST(:ids AS uuid[]), CAST(:rule_ids AS uuid[]), CAST(:versions AS integer[]),
                    CAST(:limit_keys AS text[])) AS c(id, rule_id, version, limit_key)
        ON CONFLICT DO NOTHING
        RETURNING id
    )
    SELECT id::text AS key, NULL::bigint AS transaction_id FROM claimed
    UNION ALL
    SELECT idempotency_key, id FROM ledger_transactions WHERE idempotency_key = ANY(CAST(:legacy_keys AS text[]))
    """
)
_RESULTS = text(
    """
    UPDATE rule_firings AS f SET results = CAST(r.results AS jsonb)
    FROM unnest(CAST(:ids AS uuid[]), CAST(:results AS text[])) AS r(id, results)
    WHERE f.id = r.id
    """
)


@dataclass(frozen=True)
class Claim:
    """A firing to claim: the rule, its version and the member's limit key for this event."""

    firing_id: uuid.UUID
    rule_id: uuid.UUID
    version: int
    limit_key: str


@dataclass(frozen=True)
class Claimed:
    firing_ids: frozenset[uuid.UUID]
    # Pre-rules award key -> the ledger transaction posted under it.
    legacy: dict[str, int]


async def claim(
    session: AsyncSession,
    claims: Sequence[Claim],
    *,
    event_key: str,
    member_id: uuid.UUID,
    trigger: str,
    fired_at: datetime,
    legacy_keys: Sequence[str],
) -> Claimed:
    rows = await session.execute(
        _CLAIM,
        {
            "event_key": event_key,
            "member_id": member_id,
            "trigger": trigger,
            "fired_at": fired_at,
            "ids": [c.firing_id for c in claims],
            "rule_ids": [c.rule_id for c in claims],
            "versions": [c.version for c in claims],
            "limit_keys": [c.limit_key for c in claims],
            "legacy_keys": list(legacy_keys),
        },
    )
    firing_ids: set[uuid.UUID] = set()
    legacy: dict[str, int] = {}
    for key, transaction_id in rows:
        if transaction_id is None:
            firing_ids.add(uuid.UUID(key))
        else:
            legacy[key] = int(transaction_id)
    return Claimed(frozenset(firing_ids), legacy)


@dataclass(frozen=True)
class Blocker:
    status: str  # already_fired (this event, this version) or limit_reached (an earlier event, same limit)
    firing: RuleFiring


async def blockers(
    session: AsyncSession, claims: Sequence[Claim], *, event_key: str, member_id: uuid.UUID
) -> dict[uuid.UUID, Blocker]:
    """For each claim's rule, the earlier firing that holds it back (one query for all of them); the same
    event's firing wins over a limit's."""
    if not claims:
        return {}
    stmt = select(RuleFiring).where(
        or_(
            tuple_(RuleFiring.rule_id, RuleFiring.version, RuleFiring.event_key).in_(
                [(c.rule_id, c.version, event_key) for c in claims]
            ),
            tuple_(RuleFiring.rule_id, RuleFiring.member_id, RuleFiring.limit_key).in_(
                [(c.rule_id, member_id, c.limit_key) for c in claims]
            ),
        )
    )
    found = list((await session.execute(stmt)).scalars().all())
    held: dict[uuid.UUID, Blocker] = {}
    for c in claims:
        same_event = next(
            (f for f in found if f.rule_id == c.rule_id and f.version == c.version and f.event_key == event_key),
            None,
        )
        if same_event is not None:
            held[c.rule_id] = Blocker("already_fired", same_event)
            continue
        same_limit = next(
            (f for f in found if f.rule_id == c.rule_id and f.member_id == member_id and f.limit_key == c.limit_key),
            None,
        )
        if same_limit is not None:
            held[c.rule_id] = Blocker("limit_reached", same_limit)
    return held


async def write_results(session: AsyncSession, results: Sequence[tuple[uuid.UUID, list[dict[str, Any]]]]) -> None:
    """What each firing's actions did, for all firings of the event in one statement."""
    if not results:
        return
    await session.execute(
        _RESULTS,
        {"ids": [firing_id for firing_id, _ in results], "results": [json.dumps(done) for _, done in results]},
    )
