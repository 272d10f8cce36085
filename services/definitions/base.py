"""The parts every definition model is made of: the strict base, the validation problem record, and the one
"exactly one of these keys" rule that journey steps and rule actions both follow."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

# A tag, flag, template or step name as marketers write it: lower case, digits and underscores.
Name = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
# A coupon template code (the pattern services.rewards.coupons gives coupon templates).
CouponCode = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]{2,64}$")]
Points = Annotated[int, Field(gt=0, le=1_000_000)]
Reason = Annotated[str, StringConstraints(min_length=3, max_length=200)]


class Strict(BaseModel):
    """Unknown keys are errors: a misspelt field must not be dropped silently from a marketer's definition."""

    model_config = ConfigDict(extra="forbid")


class Problem(BaseModel):
    """What a marketer must fix, and the path of the field at fault (`steps.2.send.template`)."""

    path: str
    message: str


def present_keys(data: Mapping[str, Any], keys: Sequence[str]) -> list[str]:
    """Which of `keys` the data has; a key given as null counts as absent."""
    return [key for key in keys if data.get(key) is not None]


def exactly_one(data: Mapping[str, Any], keys: Sequence[str], *, what: str) -> str:
    """The one key of `keys` that the data has; a ValueError that says what it has otherwise."""
    present = present_keys(data, keys)
    if len(present) != 1:
        raise ValueError(f"{what} needs exactly one of {', '.join(keys)}; it has {', '.join(present) or 'none'}")
    return present[0]
