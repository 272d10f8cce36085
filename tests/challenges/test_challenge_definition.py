"""Challenge definitions: the windows a moment of joining gives (months roll over the year, dates include the
end day), streak counting, and the shipped built-ins parse."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from pydantic import ValidationError

from services.challenges import DatesWindow, MonthWindow, RelativeWindow, parse, window_for
from services.challenges.builtins import BUILTIN_CHALLENGES
from services.challenges.progress import streaks

JOINED = datetime(2026, 12, 20, 15, 30, tzinfo=UTC)


def test_windows_from_a_moment_of_joining() -> None:
    assert window_for(RelativeWindow(days=14), JOINED) == (JOINED, JOINED + timedelta(days=14))
    assert window_for(MonthWindow(), JOINED) == (datetime(2026, 12, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
    assert window_for(MonthWindow(month="2027-02"), JOINED) == (
        datetime(2027, 2, 1, tzinfo=UTC),
        datetime(2027, 3, 1, tzinfo=UTC),
    )
    dates = DatesWindow(start=date(2026, 11, 11), end=date(2026, 11, 12))
    assert window_for(dates, JOINED) == (datetime(2026, 11, 11, tzinfo=UTC), datetime(2026, 11, 13, tzinfo=UTC))


def test_a_missed_day_restarts_the_current_run_but_keeps_the_longest() -> None:
    day = date(2026, 12, 1)
    days = [day + timedelta(days=n) for n in (0, 1, 2, 4, 5)]
    assert streaks(days) == (3, 2)
    assert streaks([]) == (0, 0)


@pytest.mark.parametrize(
    "window",
    [
        {"kind": "dates", "start": "1999-12-31", "end": "2000-01-02"},
        {"kind": "dates", "start": "2026-01-01", "end": "2027-06-01"},
        {"kind": "month", "month": "2026-13"},
        {"kind": "relative", "days": 0},
        {"kind": "weekly"},
    ],
)
def test_windows_out_of_range_are_refused(window: dict[str, object]) -> None:
    raw = BUILTIN_CHALLENGES["checkin_streak_7"] | {"window": window}
    with pytest.raises(ValidationError):
        parse(raw)


def test_the_built_ins_parse() -> None:
    assert {code: parse(raw).enrolment.value for code, raw in BUILTIN_CHALLENGES.items()} == {
        "starter_pack": "signup",
        "monthly_spend_500": "window_start",
        "monthly_two_orders": "window_start",
        "checkin_streak_7": "opt_in",
    }
