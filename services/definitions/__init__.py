"""Definitions: what journeys and rules share — the strict base model, validation problems, the "exactly one
of these keys" rule, durations, the actions both take, and conditions and their evaluation."""

from services.definitions.actions import (
    MAX_WAIT_DAYS,
    CreateTaskAction,
    Duration,
    FlagAction,
    GrantPointsAction,
    IssueCouponAction,
    TagAction,
)
from services.definitions.base import (
    CouponCode,
    Name,
    Points,
    Problem,
    Reason,
    Strict,
    exactly_one,
    present_keys,
)

__all__ = [
    "MAX_WAIT_DAYS",
    "CouponCode",
    "CreateTaskAction",
    "Duration",
    "FlagAction",
    "GrantPointsAction",
    "IssueCouponAction",
    "Name",
    "Points",
    "Problem",
    "Reason",
    "Strict",
    "TagAction",
    "exactly_one",
    "present_keys",
]
