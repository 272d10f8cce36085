"""Journeys handed to Temporal that have not begun: the start was delivered (the outbox row is dispatched) but the
run has not recorded its first step in `journey_runs` yet. This is the backlog a member feels (the welcome not
sent yet), and it grows when the worker or the server falls behind even while the outbox stays empty.

Read from the database in one statement. It looks only at recent starts (the newest `scan_rows` outbox rows,
delivered within `window`), so its cost is bounded however large the outbox grows: a backward range scan of the
outbox's primary key and one probe of `journey_runs`'s workflow id index per journey start found there. A start
older than the window that never began (its workflow failed before its first step) drops out of the count; the
failed workflow is Temporal's to show. Journeys a campaign starts (child workflows, not outbox rows) are not
counted."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from workflows.contracts import JOURNEY_WORKFLOW

# A start "has begun" when a run under its workflow id was open when the start was asked for or opened after it
# (the start began that run, or found one running and changed nothing), or, for a start that may run only once
# (`start_once`), when any run under the id exists.
_NOT_BEGUN = text(
    """
    WITH recent AS (
        SELECT o.workflow_id, o.action, o.created_at, o.dispatched_at
        FROM temporal_outbox o
        WHERE o.id > (SELECT coalesce(max(id), 0) FROM temporal_outbox) - :scan_rows
          AND o.workflow_type = :workflow_type
          AND o.action LIKE 'start%'
          AND o.dispatched_at > now() - make_interval(secs => :window_seconds)
    )
    SELECT count(*) AS waiting,
           coalesce(extract(epoch FROM now() - min(recent.dispatched_at)), 0) AS oldest
    FROM recent
    WHERE NOT EXISTS (
        SELECT 1 FROM journey_runs r
        WHERE r.workflow_id = recent.workflow_id
          AND (recent.action = 'start_once' OR r.ended_at IS NULL OR r.ended_at >= recent.created_at)
    )
    """
)


@dataclass(frozen=True)
class NotBegun:
    """Journey runs delivered to Temporal but not at their first step yet, and how long the oldest has waited."""

    count: int
    oldest_age_seconds: float


async def not_begun(
    session: AsyncSession, *, window: timedelta = timedelta(hours=1), scan_rows: int = 20_000
) -> NotBegun:
    row = (
        await session.execute(
            _NOT_BEGUN,
            {"scan_rows": scan_rows, "workflow_type": JOURNEY_WORKFLOW, "window_seconds": window.total_seconds()},
        )
    ).one()
    return NotBegun(count=int(row.waiting), oldest_age_seconds=float(row.oldest))
