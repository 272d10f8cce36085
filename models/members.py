"""The member record: profile, consent, tier and purchase aggregates."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Boolean, Date, DateTime, Integer, Numeric, String, Text, Uuid, func, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.ids import uuid7
from models.base import Base, created_at_column


class Member(Base):
    __tablename__ = "members"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    external_id: Mapped[str] = mapped_column(String(128), unique=True)
    name: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320), index=True)
    # Indexed: the portal (and SMS STOP replies) find members by phone.
    phone: Mapped[str | None] = mapped_column(String(32), index=True)
    birthday: Mapped[date | None] = mapped_column(Date)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    locale: Mapped[str] = mapped_column(String(35), default="en")
    tier: Mapped[str] = mapped_column(String(32), default="member", index=True)
    # When the member reached their current tier: an anniversary review falls on its anniversaries. NULL for
    # a member who never changed tier (the sign-up counts).
    tier_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    tags: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list, server_default=text("'{}'"))
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default=text("'{}'"))
    consent_email: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_email_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    consent_email_source: Mapped[str | None] = mapped_column(String(100))
    consent_sms: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_sms_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    consent_sms_source: Mapped[str | None] = mapped_column(String(100))
    lifetime_spend: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal("0"))
    order_count: Mapped[int] = mapped_column(Integer, default=0)
    last_purchase_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Where the member signed up: a registration link's `src` (a channel or store code such as store-sh-01) or
    # `direct`; NULL for members from the API or an import (services.portal.join).
    source: Mapped[str | None] = mapped_column(String(64), index=True)
    # Set once by erasure (services.privacy): the personal fields are gone, nothing is sent to the member any
    # more and new events and orders for them are refused. Orders and the ledger stay, under this id.
    erased_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The latest deadline of the member's open challenges (services.challenges): an order or event after it
    # reads no challenge, so members in none pay nothing for the feature on the hot paths.
    challenges_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
