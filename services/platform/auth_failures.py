"""Failed authentications per source address, counted in PostgreSQL so that every API process shares one
count: one upsert per failure (successes cost nothing here), in fixed windows that start at a source's first
failure. The caller keeps the resulting block in its own memory (api.auth_guard)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from sqlalchemy import Table, case, delete, func
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from models import AuthFailure


@dataclass(frozen=True)
class FailureCount:
    failures: int
    # Seconds until the source's current window ends (by the database's clock).
    window_left: float


async def count_failure(session: AsyncSession, source: str, *, window_seconds: int) -> FailureCount:
    """Add one failure for `source` in its current window (or start a new window) and return the count."""
    window = func.make_interval(0, 0, 0, 0, 0, 0, window_seconds)
    table = cast(Table, AuthFailure.__table__)
    current = table.c.window_start > func.now() - window
    # CASE expressions on the row as it was: within the window count on, otherwise start a new window.
    inserted = insert(table).values(source=source, window_start=func.now(), failures=1)
    statement = inserted.on_conflict_do_update(
        index_elements=[table.c.source],
        set_={
            "failures": case((current, table.c.failures + 1), else_=1),
            "window_start": case((current, table.c.window_start), else_=func.now()),
        },
    ).returning(table.c.failures, func.extract("epoch", table.c.window_start + window - func.now()))
    failures, left = (await session.execute(statement)).one()
    return FailureCount(failures=int(failures), window_left=float(left))


async def forget_stale(session: AsyncSession, *, window_seconds: int) -> None:
    """Delete the counts whose window has ended (they would start afresh anyway)."""
    window = func.make_interval(0, 0, 0, 0, 0, 0, window_seconds)
    await session.execute(delete(AuthFailure).where(AuthFailure.window_start <= func.now() - window))
