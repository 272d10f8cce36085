"""The actions journeys and rules both take (grant points, issue a coupon, create a staff task, tag, flag) and
the duration both wait for. A journey step `{"tag": {...}}` and a rule action `{"tag": {...}}` read the
same; where a rule offers more (points per currency unit), services.rules.definition says so."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from services.definitions.base import CouponCode, Name, Points, Reason, Strict

MAX_WAIT_DAYS = 400
TaskTitle = Annotated[str, StringConstraints(min_length=3, max_length=200)]


class Duration(Strict):
    days: int = Field(default=0, ge=0, le=MAX_WAIT_DAYS)
    hours: int = Field(default=0, ge=0, le=24 * MAX_WAIT_DAYS)
    minutes: int = Field(default=0, ge=0, le=60 * 24 * MAX_WAIT_DAYS)

    @property
    def seconds(self) -> int:
        return ((self.days * 24 + self.hours) * 60 + self.minutes) * 60


class GrantPointsAction(Strict):
    """A fixed number of points, with the reason the member reads in the ledger."""

    points: Points
    reason: Reason


class IssueCouponAction(Strict):
    template: CouponCode


class CreateTaskAction(Strict):
    title: TaskTitle
    # Staff roles, plus the member's account manager (tasks listed under that role).
    assignee_role: Literal["marketer", "ops", "approver", "admin", "account_manager"] = "marketer"
    due_days: int = Field(default=2, ge=0, le=90)


class TagAction(Strict):
    add: list[Name] = Field(default_factory=list, max_length=20)
    remove: list[Name] = Field(default_factory=list, max_length=20)


class FlagAction(Strict):
    # Flags are tags with meaning to staff and segments (e.g. "pre_churn").
    set: Name | None = None
    clear: Name | None = None
