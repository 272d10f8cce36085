"""Calendar arithmetic that the standard library leaves out."""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta


def add_months(moment: datetime, months: int) -> datetime:
    """The same wall-clock time `months` calendar months later, clamped to the month's last day
    (31 January + 1 month = 28 or 29 February)."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def utc_past(moment: datetime, *, max_age: timedelta | None = None) -> datetime:
    """A time zone-aware moment that is not in the future (five minutes of clock skew allowed) and, with
    `max_age`, not older than that; returned in UTC. Raises ValueError with a reason a person can read."""
    if moment.tzinfo is None:
        raise ValueError("timestamps need a time zone, e.g. '2026-11-23T10:00:00Z'")
    now = datetime.now(UTC)
    if moment > now + timedelta(minutes=5):
        raise ValueError("is in the future")
    if max_age is not None and moment < now - max_age:
        raise ValueError(f"is more than {max_age.days} days ago")
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+03:00 is a day before the calendar's first in UTC
        raise ValueError("is before the earliest date the service can store") from None
