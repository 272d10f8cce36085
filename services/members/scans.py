"""Members due for something on a given day, for the daily scans: a birthday predicate that minds 29 February,
the last-purchase day, and every member matching a predicate, page by page."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from models import Member

SCAN_PAGE = 1000


def birthday_on(day: date) -> ColumnElement[bool]:
    """Members whose birthday falls on `day`; in a common year, 29 February birthdays fall on the 28th."""
    month, day_of_month = func.extract("month", Member.birthday), func.extract("day", Member.birthday)
    same_day = (month == day.month) & (day_of_month == day.day)
    if day.month == 2 and day.day == 28 and (day + timedelta(days=1)).month == 3:
        return same_day | ((month == 2) & (day_of_month == 29))
    return same_day


def last_purchase_on(day: date) -> ColumnElement[bool]:
    """Members whose last purchase was on `day` (UTC), so a silent spell of N days is due exactly once.
    Bounds on the timestamp itself, not `date(last_purchase_at)`: that cast takes the day in the session's
    time zone, so a server set to Asia/Shanghai would move every purchase after 16:00 UTC to the next day."""
    start = datetime.combine(day, time(), tzinfo=UTC)
    return (Member.last_purchase_at >= start) & (Member.last_purchase_at < start + timedelta(days=1))


async def pages_of(
    session: AsyncSession, where: ColumnElement[bool], *, page_size: int = SCAN_PAGE
) -> AsyncIterator[list[Member]]:
    """Every member matching `where` (never an erased one), by id, `page_size` at a time (keyset: nobody is
    skipped or seen twice)."""
    after: uuid.UUID | None = None
    while True:
        stmt = select(Member).where(where, Member.erased_at.is_(None))
        if after is not None:
            stmt = stmt.where(Member.id > after)
        page = list((await session.execute(stmt.order_by(Member.id).limit(page_size))).scalars().all())
        if page:
            yield page
        if len(page) < page_size:
            return
        after = page[-1].id
