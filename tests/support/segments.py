"""Helpers for the segment tests: the fixed 'today', five members with known facts and how to insert them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from models import Member

TODAY = date(2026, 6, 15)


def _at(day: str, clock: str = "12:00") -> datetime:
    return datetime.fromisoformat(f"{day}T{clock}:00+00:00")


@dataclass
class Population:
    tag: str
    ids: dict[str, uuid.UUID]

    def names(self, found: set[uuid.UUID]) -> set[str]:
        return {name for name, member_id in self.ids.items() if member_id in found}


# Five members with known facts; every test limits itself to them through their own tag.
PEOPLE: dict[str, dict[str, Any]] = {
    "ann": {
        "tier": "gold",
        "tags": ["vip", "newsletter"],
        "consent_email": True,
        "consent_sms": True,
        "lifetime_spend": Decimal("1200.00"),
        "order_count": 8,
        "last_purchase_at": _at("2026-06-12", "10:00"),  # 3 days before TODAY
        "created_at": _at("2025-01-10"),
        "birthday": date(1990, 5, 2),
        "attributes": {"city": "Shanghai", "visits": 12},
    },
    "bob": {
        "tier": "silver",
        "tags": ["vip"],
        "consent_email": True,
        "lifetime_spend": Decimal("100.00"),
        "order_count": 1,
        "last_purchase_at": _at("2026-05-16", "23:59"),  # 30 days
        "created_at": _at("2026-05-01"),
        "birthday": date(1985, 12, 1),
        "attributes": {"city": "Beijing", "visits": "many"},
    },
    "cai": {
        "consent_sms": True,
        "lifetime_spend": Decimal("99.99"),
        "order_count": 2,
        "last_purchase_at": _at("2026-05-17", "00:00"),  # 29 days
        "created_at": _at("2026-06-14", "23:00"),  # signed up 1 day ago
        "attributes": {"vip_level": 3.5},
    },
    "dan": {
        "tags": ["newsletter"],
        "created_at": _at("2026-06-15", "01:00"),  # today; never purchased
        "birthday": date(2000, 5, 20),
    },
    "eve": {
        "tier": "gold",
        "tags": ["vip", "churn_risk"],
        "consent_email": True,
        "lifetime_spend": Decimal("5000.00"),
        "order_count": 20,
        "last_purchase_at": _at("2025-06-15"),  # 365 days
        "created_at": _at("2024-06-15"),
        "birthday": date(1970, 6, 1),
        "attributes": {"city": "Shanghai", "visits": 3, "premium": True},
    },
}


async def insert_members(
    session: AsyncSession, people: dict[str, dict[str, Any]], *, tag: str | None
) -> dict[str, uuid.UUID]:
    rows = {}
    for name, facts in people.items():
        fields = dict(facts)
        tags = [*([tag] if tag else []), *fields.pop("tags", [])]
        rows[name] = Member(external_id=f"seg-{name}-{uuid.uuid4().hex[:10]}", tags=tags, **fields)
    session.add_all(rows.values())
    await session.flush()
    return {name: row.id for name, row in rows.items()}
