"""The period every KPI answers for, and the small helpers the KPI queries share."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from core.errors import InvalidInput

MAX_PERIOD_DAYS = 3 * 366
# Far from the ends of Python's calendar, so the queries' own offsets (90 days back, a day forward) always fit.
EARLIEST_DAY = date(1900, 1, 1)
LATEST_DAY = date(9999, 1, 1)
MAX_COHORT_MONTHS = 24
# Keeps only members of the period's tier, when it names one.
TIER_FILTER = "(CAST(:tier AS text) IS NULL OR m.tier = CAST(:tier AS text))"


@dataclass(frozen=True)
class Period:
    start: date
    end: date
    tier: str | None = None

    @classmethod
    def of(cls, start: date | None, end: date | None, tier: str | None, *, today: date | None = None) -> Period:
        """The last 90 days up to today unless given; a period must run forwards and stay under three years."""
        _check_in_calendar("query.from", start)
        _check_in_calendar("query.to", end)
        end = end or today or datetime.now(UTC).date()
        start = start or end - timedelta(days=89)
        if start > end:
            raise InvalidInput(
                "the period starts after it ends",
                code="invalid_period",
                details=[{"field": "query.from", "message": f"must be on or before {end.isoformat()}"}],
            )
        if (end - start).days > MAX_PERIOD_DAYS:
            raise InvalidInput(
                "the period is too long",
                code="invalid_period",
                details=[{"field": "query.from", "message": f"a period spans at most {MAX_PERIOD_DAYS} days"}],
            )
        return cls(start, end, tier or None)

    @property
    def since(self) -> datetime:
        return datetime.combine(self.start, time(), tzinfo=UTC)

    @property
    def until(self) -> datetime:
        """Exclusive: the start of the day after `end`."""
        return datetime.combine(self.end + timedelta(days=1), time(), tzinfo=UTC)

    def params(self, **extra: Any) -> dict[str, Any]:
        return {"since": self.since, "until": self.until, "tier": self.tier, **extra}

    def weeks(self) -> list[str]:
        """Every week (its Monday, ISO date) the period touches, oldest first: the keys of the weekly series."""
        monday = self.start - timedelta(days=self.start.weekday())
        weeks: list[str] = []
        while monday <= self.end:
            weeks.append(monday.isoformat())
            monday += timedelta(days=7)
        return weeks


def _check_in_calendar(field: str, day: date | None) -> None:
    if day is not None and not EARLIEST_DAY <= day <= LATEST_DAY:
        raise InvalidInput(
            "the period is outside the dates the KPIs cover",
            code="invalid_period",
            details=[{"field": field, "message": f"must be between {EARLIEST_DAY} and {LATEST_DAY}"}],
        )


def ratio(part: Decimal | int, whole: Decimal | int, places: str = "0.0001") -> Decimal | None:
    return None if not whole else (Decimal(part) / Decimal(whole)).quantize(Decimal(places))


def money(value: Any) -> Decimal:
    return Decimal(value or 0).quantize(Decimal("0.01"))
