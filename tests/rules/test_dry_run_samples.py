"""The dry run's sample of a `tier_at_risk` event: what the marketer gives, else the member's tier, nothing
needed and a review today, so a draft testing `event.amount_needed` can be tried before it is saved."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from pydantic import ValidationError

from models import Member
from services import rules


def test_a_tier_at_risk_sample_carries_what_the_marketer_gave() -> None:
    sample = rules.SampleEvent.model_validate(
        {
            "trigger": "tier_at_risk",
            "member_id": str(uuid.uuid4()),
            "tier": "gold",
            "would_become": "silver",
            "amount_needed": "420.50",
            "review_on": "2027-03-10",
        }
    )
    assert rules.sample_facts(sample, Member(tier="gold")) == {
        "event.tier": "gold",
        "event.would_become": "silver",
        "event.amount_needed": Decimal("420.50"),
        "event.review_on": "2027-03-10",
    }


def test_a_bare_tier_at_risk_sample_takes_the_members_tier_and_today() -> None:
    sample = rules.SampleEvent(trigger="tier_at_risk", member_id=uuid.uuid4())
    facts = rules.sample_facts(sample, Member(tier="silver"))
    today = datetime.now(UTC).date()
    assert facts["event.review_on"] in (today.isoformat(), date.fromordinal(today.toordinal() + 1).isoformat())
    assert {k: v for k, v in facts.items() if k != "event.review_on"} == {
        "event.tier": "silver",
        "event.would_become": "silver",
        "event.amount_needed": Decimal("0"),
    }


def test_a_negative_amount_needed_is_refused() -> None:
    with pytest.raises(ValidationError, match="amount_needed"):
        rules.SampleEvent.model_validate(
            {"trigger": "tier_at_risk", "member_id": str(uuid.uuid4()), "amount_needed": "-1"}
        )
