"""The programme's rate for paying with points at checkout (100 points = 1.00 CNY, at most 50% of an order, at
least 500 points), edited by admins and audited, and the quote: how many points an order may use.

Points are used in whole units of the rate (multiples of `points_per_unit`), so a checkout's points are always
worth an exact amount of money and the shop never has to round a discount."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import InvalidInput, NotFound
from models import CheckoutSettings, Member
from services import members
from services.loyalty import ledger
from services.loyalty.money import Money
from services.platform import audit
from services.platform.audit import Actor

Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
MAX_POINTS = 100_000_000


class RateUpdate(BaseModel):
    """The whole rate, replaced at once (PUT): what the console form and the API send."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool
    currency: Currency
    points_per_unit: int = Field(ge=1, le=1_000_000, description="points worth `unit_value` (e.g. 100)")
    unit_value: Money = Field(description='what `points_per_unit` points are worth, e.g. "1.00"')
    max_percent: int = Field(ge=1, le=100, description="the share of an order points may pay, in percent")
    min_points: int = Field(ge=0, le=MAX_POINTS, description="the fewest points one checkout may use")
    hold_minutes: int = Field(ge=1, le=1440, description="how long a checkout's hold lasts before it is released")

    @field_validator("unit_value")
    @classmethod
    def _positive(cls, value: Decimal) -> Decimal:
        if value <= 0:
            raise ValueError("must be above zero")
        return value


async def current(session: AsyncSession, *, for_update: bool = False) -> CheckoutSettings:
    stmt = select(CheckoutSettings).where(CheckoutSettings.id == 1)
    if for_update:
        stmt = stmt.with_for_update()
    row = (await session.execute(stmt)).scalar_one_or_none()
    if row is None:  # the migration seeds it; a database without it is not ours
        raise NotFound("the checkout programme is not set up", code="checkout_settings_missing")
    return row


def snapshot(row: CheckoutSettings) -> dict[str, object]:
    return RateUpdate.model_validate(row, from_attributes=True).model_dump(mode="json")


async def update(session: AsyncSession, data: RateUpdate, *, actor: Actor) -> CheckoutSettings:
    """Replace the rate; open checkouts keep the points and value they were held at."""
    row = await current(session, for_update=True)
    before = snapshot(row)
    for name, value in data.model_dump().items():
        setattr(row, name, value)
    row.updated_by = actor.name
    await session.flush()
    await audit.record(
        session,
        actor,
        action="checkout_settings.update",
        target_type="checkout_settings",
        target_id="programme",
        details={"before": before, "after": data.model_dump(mode="json")},
    )
    return row


def value_of(points: int, rate: CheckoutSettings) -> Decimal:
    """What `points` (whole units of the rate) are worth, to the cent."""
    units = Decimal(points) / rate.points_per_unit
    return (units * rate.unit_value).quantize(Decimal("0.01"), rounding=ROUND_FLOOR)


def cap_points(order_amount: Decimal, rate: CheckoutSettings) -> int:
    """The most points the cap allows: whole units worth at most `max_percent` of the order."""
    cap_value = order_amount * rate.max_percent / 100
    units = int((cap_value / rate.unit_value).to_integral_value(rounding=ROUND_FLOOR))
    return units * rate.points_per_unit


QuoteReason = Literal["ok", "disabled", "below_minimum"]


@dataclass(frozen=True)
class Quote:
    member_id: uuid.UUID
    order_amount: Decimal
    currency: str
    available: int
    cap_points: int
    min_points: int
    max_points: int  # what this order may use now: 0 when below the minimum or the programme is off
    max_value: Decimal
    points_per_unit: int
    unit_value: Decimal
    reason: QuoteReason


class QuoteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    member_id: uuid.UUID | None = None
    member_external_id: members.ExternalId | None = None
    order_amount: Money
    currency: Currency


async def resolve_member(
    session: AsyncSession, member_id: uuid.UUID | None, external_id: str | None, *, for_update: bool = False
) -> Member:
    """The member by our id or by the shop's customer id: exactly one of the two."""
    if (member_id is None) == (external_id is None):
        raise InvalidInput(
            "give the member as member_id or member_external_id (one of the two)",
            details=[{"field": "body.member_id", "message": "exactly one of member_id, member_external_id"}],
        )
    if member_id is None:
        found = (await session.execute(select(Member.id).where(Member.external_id == external_id))).scalar_one_or_none()
        if found is None:
            raise NotFound(f"no member has external_id {external_id!r}", code="member_not_found")
        member_id = found
    return await members.get_active(session, member_id, for_update=for_update)


def check_currency(currency: str, rate: CheckoutSettings) -> None:
    if currency != rate.currency:
        raise InvalidInput(
            f"points pay for orders in {rate.currency}, not {currency}",
            code="currency_mismatch",
            details=[{"field": "body.currency", "message": f"must be {rate.currency}"}],
        )


def _usable(available: int, cap: int, rate: CheckoutSettings) -> tuple[int, QuoteReason]:
    if not rate.enabled:
        return 0, "disabled"
    whole = min(available - available % rate.points_per_unit, cap)
    if whole < max(rate.min_points, 1):
        return 0, "below_minimum"
    return whole, "ok"


async def quote(session: AsyncSession, data: QuoteRequest) -> Quote:
    """How many points this order may use: min(available, cap) in whole units of the rate, or 0 below the
    minimum. Reads only."""
    rate = await current(session)
    check_currency(data.currency, rate)
    member = await resolve_member(session, data.member_id, data.member_external_id)
    available = (await ledger.balance(session, member.id)).available
    cap = cap_points(data.order_amount, rate)
    usable, reason = _usable(available, cap, rate)
    return Quote(
        member_id=member.id,
        order_amount=data.order_amount,
        currency=data.currency,
        available=available,
        cap_points=cap,
        min_points=rate.min_points,
        max_points=usable,
        max_value=value_of(usable, rate),
        points_per_unit=rate.points_per_unit,
        unit_value=rate.unit_value,
        reason=reason,
    )
