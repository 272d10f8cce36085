"""Money as it crosses the API: a decimal string with at most two places, never a float."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator

MAX_MONEY = Decimal("10000000")  # one order or coupon above ten million is a bug upstream, not a sale
CENT = Decimal("0.01")


def _no_float(value: Any) -> Any:
    if isinstance(value, float):
        raise ValueError('money must be a decimal string such as "129.90", not a JSON number')
    return value


def _money(value: Decimal) -> Decimal:
    if not value.is_finite():
        raise ValueError("must be a finite number")
    if value < 0:
        raise ValueError("must not be negative")
    if value > MAX_MONEY:
        raise ValueError(f"must not exceed {MAX_MONEY}")
    if value != value.quantize(CENT):
        raise ValueError("has at most two decimal places")
    return value


Money = Annotated[Decimal, BeforeValidator(_no_float), AfterValidator(_money)]
