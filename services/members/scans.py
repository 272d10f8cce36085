"""Members due for something on a given day, for the daily scans: a birthday predicate that minds 29 February,
the last-purchase day, the signup anniversary, and every member matching a predicate, page by page."""

from __future__ import annotations

import calendar
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import ColumnElement, false, func, or_, select
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


def _falls_on(month: int, day_of_month: int, day: date) -> bool:
    """An anniversary of (month, day_of_month) falls on `day`: the same date, or for 29 February the 28th in a
    common year."""
    if (month, day_of_month) == (day.month, day.day):
        return True
    return (month, day_of_month) == (2, 29) and (day.month, day.day) == (2, 28) and (day + timedelta(days=1)).month == 3


def signup_years(signed_up_local: date, day: date) -> int | None:
    """Whole years since signing up if `day` is a signup anniversary (29 February signups on the 28th in a
    common year), else None; the day of signing up itself is no anniversary."""
    if day.year <= signed_up_local.year or not _falls_on(signed_up_local.month, signed_up_local.day, day):
        return None
    return day.year - signed_up_local.year


def signed_up_around(day: date) -> ColumnElement[bool]:
    """Members who may have their signup anniversary on `day` in their own time zone: signed up (in UTC) on a
    calendar date at most a day from one that falls on `day`, in an earlier year. A superset: the scan checks
    each one's local date with `signup_years`."""
    wanted = [(day.month, day.day)] + ([(2, 29)] if day.day == 28 and _falls_on(2, 29, day) else [])
    # Neighbours in a leap and a common year: the day before 1 March is the 29th or the 28th.
    near = {
        (d.month, d.day)
        for year in (2000, 2001)
        for month, day_of_month in wanted
        if calendar.isleap(year) or (month, day_of_month) != (2, 29)
        for shift in (-1, 0, 1)
        for d in [date(year, month, day_of_month) + timedelta(days=shift)]
    }
    in_utc = func.timezone("UTC", Member.created_at)
    month, day_of_month = func.extract("month", in_utc), func.extract("day", in_utc)
    before = Member.created_at < datetime.combine(day - timedelta(days=300), time(), tzinfo=UTC)
    return before & or_(false(), *((month == m) & (day_of_month == d) for m, d in sorted(near)))


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
