"""Journey runs written through the service the workflow's activity uses, for tests that count who is where."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from services import journeys


async def record_run(
    session: AsyncSession,
    kind: str,
    path: list[str],
    *,
    ending: str | None = None,
    member_id: uuid.UUID | None = None,
    start: datetime | None = None,
) -> str:
    """A run of `kind` that entered each step of `path` in turn (as the workflow records them), still running
    at the last one, or ended there with status `ending` ("completed", "exited", "failed"); its run id. The run is
    for `member_id` if given, else for a made-up member with no row; it starts at `start` (default: now)."""
    run_id, member_id = str(uuid.uuid4()), member_id or uuid.uuid4()
    start = start or datetime.now(UTC)
    moves = [(step, "running") for step in path] + ([(path[-1], ending)] if ending else [])
    for n, (step, status) in enumerate(moves):
        progress = journeys.Progress(
            run_id=run_id,
            workflow_id=f"journey-{kind}-{member_id}",
            member_id=member_id,
            kind=kind,
            version=1,
            campaign_id=None,
            step=step,
            status=status,
            at=start + timedelta(seconds=n),
        )
        await journeys.record(session, progress)
    return run_id
