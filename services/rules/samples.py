"""The rules' dry run's sample event: what a marketer says the event carries (or the defaults it takes from the
member), and the event facts the rules' conditions then test, as the live event's would be."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from models import Member
from services.rules.definition import TRIGGERS


class SampleEvent(BaseModel):
    """A sample event for the dry run: the trigger, the member, and what the event would carry."""

    model_config = ConfigDict(extra="forbid")

    trigger: Literal[TRIGGERS]  # type: ignore[valid-type]
    member_id: uuid.UUID
    occurred_at: datetime | None = None
    properties: dict[str, Any] = Field(default_factory=dict, max_length=50)
    # order_completed
    amount: Decimal | None = Field(default=None, ge=0, le=Decimal("1e10"), max_digits=14, decimal_places=2)
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] | None = None
    first_purchase: bool | None = None
    # tier_changed
    old_tier: Annotated[str, StringConstraints(max_length=32)] | None = None
    new_tier: Annotated[str, StringConstraints(max_length=32)] | None = None
    # inactive_days / birthday: only the rules with this parameter (default: all of the trigger)
    days: int | None = Field(default=None, ge=1, le=730)
    days_before: int | None = Field(default=None, ge=0, le=60)
    event_id: Annotated[str, StringConstraints(min_length=1, max_length=128)] | None = None
    # survey_answered
    score: int | None = Field(default=None, ge=0, le=10)
    survey: Annotated[str, StringConstraints(max_length=64)] | None = None
    kind: Literal["nps", "csat", "custom"] | None = None
    # points_expiring (with days_before: the reminder's lead); signup_anniversary
    points: int | None = Field(default=None, ge=0, le=10**12)
    expires_on: date | None = None
    years: int | None = Field(default=None, ge=1, le=200)
    # referral_rewarded (with points: what the referrer was paid); plan_started, plan_renewed, plan_ended
    reward: Literal["points", "coupon", "none"] | None = None
    plan: Annotated[str, StringConstraints(max_length=64)] | None = None
    reason: Literal["expired", "cancelled"] | None = None
    # tier_at_risk (default: the member's tier, nothing needed, a review today)
    tier: Annotated[str, StringConstraints(max_length=32)] | None = None
    would_become: Annotated[str, StringConstraints(max_length=32)] | None = None
    amount_needed: Decimal | None = Field(default=None, ge=0, le=Decimal("1e12"), max_digits=16, decimal_places=2)
    review_on: date | None = None


def sample_facts(sample: SampleEvent, member: Member) -> dict[str, Any]:
    match sample.trigger:
        case "order_completed":
            return {
                "event.amount": sample.amount if sample.amount is not None else Decimal("0"),
                "event.currency": sample.currency,
                "event.first_purchase": (
                    sample.first_purchase if sample.first_purchase is not None else member.order_count == 0
                ),
                "event.item_count": 0,
            }
        case "tier_changed":
            return {
                "event.old_tier": sample.old_tier or member.tier,
                "event.new_tier": sample.new_tier or member.tier,
                "event.direction": "up",
            }
        case "inactive_days":
            return {"event.days": sample.days}
        case "birthday":
            return {"event.days_before": sample.days_before or 0}
        case "survey_answered":
            return {"event.score": sample.score, "event.survey": sample.survey, "event.kind": sample.kind}
        case "points_expiring":
            return {
                "event.points": sample.points or 0,
                "event.expires_on": sample.expires_on.isoformat() if sample.expires_on else None,
                "event.days_before": sample.days_before or 0,
            }
        case "signup_anniversary":
            return {"event.years": sample.years or 1}
        case "referral_rewarded":
            return {"event.points": sample.points or 0, "event.reward": sample.reward or "points"}
        case "plan_started" | "plan_renewed":
            return {"event.plan": sample.plan}
        case "plan_ended":
            return {"event.plan": sample.plan, "event.reason": sample.reason or "expired"}
        case "tier_at_risk":
            return {
                "event.tier": sample.tier or member.tier,
                "event.would_become": sample.would_become or member.tier,
                "event.amount_needed": sample.amount_needed or Decimal("0"),
                "event.review_on": (sample.review_on or datetime.now(UTC).date()).isoformat(),
            }
    return {}
