"""A challenge as data: titles, a window, goals that must all be met, a reward and an optional badge, and how
members join. Validated on save (pydantic), so a stored definition always parses; the window turns a moment of
joining into the member's start and deadline (UTC days and months)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

Code = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[a-z0-9_]{2,64}$")]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
BadgeName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Month = Annotated[str, StringConstraints(pattern=r"^20[0-9]{2}-(0[1-9]|1[0-2])$")]
MAX_DAYS = 366
MAX_POINTS = 1_000_000
EARLIEST, LATEST = date(2000, 1, 1), date(2099, 12, 31)


class Enrolment(StrEnum):
    SIGNUP = "signup"  # every new member (a starter pack)
    WINDOW_START = "window_start"  # every active member when the window opens (a monthly challenge)
    OPT_IN = "opt_in"  # members who join from the portal


class GoalKind(StrEnum):
    PROFILE_COMPLETED = "profile_completed"
    ORDER_COUNT = "order_count"
    SPEND = "spend"
    CHECKIN_DAYS = "checkin_days"
    CHECKIN_STREAK = "checkin_streak"


BADGE_ICONS = ("star", "trophy", "medal", "flame", "rocket", "heart", "gift", "calendar")
BadgeIcon = Literal["star", "trophy", "medal", "flame", "rocket", "heart", "gift", "calendar"]


class RelativeWindow(BaseModel):
    """N days from the moment the member joins."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["relative"] = "relative"
    days: int = Field(ge=1, le=MAX_DAYS)


class MonthWindow(BaseModel):
    """A calendar month (UTC): `month` (2026-12), or every month when none is given."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["month"] = "month"
    month: Month | None = None


class DatesWindow(BaseModel):
    """From the start date to the end date, both included (UTC)."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["dates"] = "dates"
    start: date
    end: date

    @model_validator(mode="after")
    def _ordered(self) -> DatesWindow:
        if not (EARLIEST <= self.start and self.end <= LATEST):
            raise ValueError(f"dates fall between {EARLIEST} and {LATEST}")
        if self.end < self.start:
            raise ValueError("the end date must not be before the start date")
        if (self.end - self.start).days >= MAX_DAYS:
            raise ValueError(f"a window lasts at most {MAX_DAYS} days")
        return self


Window = Annotated[RelativeWindow | MonthWindow | DatesWindow, Field(discriminator="kind")]


class Goal(BaseModel):
    """One thing to do. `target`: orders, days, or an amount for `spend`; `profile_completed` has none."""

    model_config = ConfigDict(extra="forbid")
    kind: GoalKind
    target: Decimal = Field(default=Decimal(1), gt=0, le=Decimal(10_000_000))

    @model_validator(mode="after")
    def _whole(self) -> Goal:
        if self.kind == GoalKind.PROFILE_COMPLETED:
            self.target = Decimal(1)
        elif self.kind == GoalKind.SPEND:
            if self.target != self.target.quantize(Decimal("0.01")):
                raise ValueError("an amount has at most two decimal places")
        elif self.target != self.target.to_integral_value() or self.target > MAX_DAYS * 10:
            raise ValueError("a count is a whole number")
        if self.kind in (GoalKind.CHECKIN_DAYS, GoalKind.CHECKIN_STREAK) and self.target > MAX_DAYS:
            raise ValueError(f"at most {MAX_DAYS} days")
        return self


class Reward(BaseModel):
    """Points, a coupon (a template's code), or both."""

    model_config = ConfigDict(extra="forbid")
    points: int = Field(default=0, ge=0, le=MAX_POINTS)
    coupon: Code | None = None

    @model_validator(mode="after")
    def _something(self) -> Reward:
        if self.points == 0 and self.coupon is None:
            raise ValueError("a reward gives points, a coupon, or both")
        return self


class Badge(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[a-z0-9_]{2,32}$")]
    name_en: BadgeName
    name_zh_cn: BadgeName
    icon: BadgeIcon


class ChallengeDefinition(BaseModel):
    """What the console's form and the API save. All goals are required to complete."""

    model_config = ConfigDict(extra="forbid")
    title_en: Title
    title_zh_cn: Title
    enrolment: Enrolment
    window: Window
    goals: list[Goal] = Field(min_length=1, max_length=5)
    reward: Reward
    badge: Badge | None = None

    @model_validator(mode="after")
    def _fits(self) -> ChallengeDefinition:
        kinds = [goal.kind for goal in self.goals]
        if len(set(kinds)) != len(kinds):
            raise ValueError("each kind of goal appears once")
        if self.enrolment == Enrolment.SIGNUP and not isinstance(self.window, RelativeWindow):
            raise ValueError("a sign-up challenge runs N days from joining (a relative window)")
        if self.enrolment == Enrolment.WINDOW_START and isinstance(self.window, RelativeWindow):
            raise ValueError("a challenge that enrols at the window's start needs a month or dates window")
        return self

    @property
    def recurring(self) -> bool:
        return isinstance(self.window, MonthWindow) and self.window.month is None


def _month_start(moment: datetime) -> datetime:
    return datetime(moment.year, moment.month, 1, tzinfo=UTC)


def _next_month(start: datetime) -> datetime:
    return datetime(start.year + start.month // 12, start.month % 12 + 1, 1, tzinfo=UTC)


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def window_for(window: RelativeWindow | MonthWindow | DatesWindow, joined: datetime) -> tuple[datetime, datetime]:
    """(start, deadline) for a member joining at `joined`: the start counts events from then on; the deadline
    is the first moment past the window."""
    if isinstance(window, RelativeWindow):
        return joined, joined + timedelta(days=window.days)
    if isinstance(window, MonthWindow):
        if window.month is None:
            start = _month_start(joined.astimezone(UTC))
        else:
            year, month = (int(part) for part in window.month.split("-"))
            start = datetime(year, month, 1, tzinfo=UTC)
        return start, _next_month(start)
    return _midnight(window.start), _midnight(window.end) + timedelta(days=1)
