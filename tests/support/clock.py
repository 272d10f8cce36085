"""Dates for tests, computed from today when the test runs (never at import) and safe on every day of the year,
29 February included."""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, time, timedelta


def utc_today() -> date:
    return datetime.now(UTC).date()


def born_on_the_day(day: date, year: int) -> date:
    """A birth date in `year` (or the leap year before it, for 29 February) whose birthday falls on `day`:
    `day.replace(year=...)` raises on 29 February for a common year."""
    if (day.month, day.day) != (2, 29):
        return day.replace(year=year)
    while not calendar.isleap(year):
        year -= 1
    return date(year, 2, 29)


def same_birthday_next_year(day: date) -> date:
    """The day a birthday on `day` is celebrated a year later: 29 February moves to the 28th in a common year."""
    year = day.year + 1
    if (day.month, day.day) == (2, 29) and not calendar.isleap(year):
        return date(year, 2, 28)
    return day.replace(year=year)


def late_utc_evening(day: date) -> datetime:
    """20:00 UTC on `day`: already the next day in Asia/Shanghai, so a query that takes the day in the session's
    time zone instead of UTC gets it wrong every time, not only in some hours of the day."""
    return datetime.combine(day, time(20), tzinfo=UTC)


def days_ago(days: int, hour: int = 12) -> datetime:
    """A moment `days` before today, at `hour` UTC: relative, so it never ages past an age limit."""
    return datetime.combine(utc_today() - timedelta(days=days), time(hour), tzinfo=UTC)
