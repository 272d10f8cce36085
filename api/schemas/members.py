"""Member responses."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict

from api.pagination import Page
from api.schemas.loyalty import TierChangeOut
from api.schemas.messages import MessageSummaryOut
from api.schemas.orders import OrderOut
from api.schemas.plans import PlanBenefitsOut
from api.schemas.referrals import MemberReferralOut
from models import Member
from services.analytics.member360 import MemberView, join_prefix
from services.loyalty.expiries import ExpirySchedule
from services.loyalty.ledger import Balance, LedgerLine
from services.privacy import masking
from services.privacy.masking import View
from workflows import contracts


class ConsentOut(BaseModel):
    email: bool
    sms: bool
    email_updated_at: datetime | None
    email_source: str | None
    sms_updated_at: datetime | None
    sms_source: str | None


class MemberOut(BaseModel):
    id: uuid.UUID
    external_id: str
    name: str | None
    email: str | None
    phone: str | None
    # A date, or `--MM` (the month only) where the caller's view masks it (services.privacy.masking).
    birthday: date | str | None
    timezone: str
    locale: str
    tier: str
    tags: list[str]
    attributes: dict[str, Any]
    consent: ConsentOut
    lifetime_spend: Decimal
    order_count: int
    last_purchase_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, m: Member, view: View, open_keys: list[str] | None = None) -> MemberOut:
        """The member as `view` shows it; `open_keys` are the custom fields not marked personal."""
        shown = view
        return cls(
            id=m.id,
            external_id=m.external_id,
            name=shown.apply("members", "name", m.name),
            email=shown.apply("members", "email", m.email),
            phone=shown.apply("members", "phone", m.phone),
            birthday=shown.apply("members", "birthday", m.birthday),
            timezone=m.timezone,
            locale=m.locale,
            tier=m.tier,
            tags=list(m.tags),
            attributes=masking.attributes(shown, m.attributes, open_keys or ()),
            consent=ConsentOut(
                email=m.consent_email,
                sms=m.consent_sms,
                email_updated_at=m.consent_email_at,
                email_source=m.consent_email_source,
                sms_updated_at=m.consent_sms_at,
                sms_source=m.consent_sms_source,
            ),
            lifetime_spend=m.lifetime_spend,
            order_count=m.order_count,
            last_purchase_at=m.last_purchase_at,
            created_at=m.created_at,
            updated_at=m.updated_at,
        )


class PointsOut(BaseModel):
    posted: int
    held: int
    available: int
    debt: int

    @classmethod
    def of(cls, balance: Balance) -> PointsOut:
        return cls(posted=balance.posted, held=balance.held, available=balance.available, debt=balance.debt)


class ExpiryDateOut(BaseModel):
    expires_on: date
    points: int


class ExpiriesOut(BaseModel):
    """Every future expiry of the member's points by date in their time zone: the first 24 dates, the total of
    all, and the dates (and their points) beyond the list."""

    dates: list[ExpiryDateOut]
    total: int
    more_dates: int
    more_points: int

    @classmethod
    def of(cls, schedule: ExpirySchedule) -> ExpiriesOut:
        return cls(
            dates=[ExpiryDateOut(expires_on=row.expires_on, points=row.points) for row in schedule.dates],
            total=schedule.total,
            more_dates=schedule.more_dates,
            more_points=schedule.more_points,
        )


class LedgerLineOut(BaseModel):
    entry_id: int
    transaction_id: int
    kind: str
    amount: int
    # A pending line is one side of a hold or its release: it moves `held`, not `posted`.
    pending: bool
    balance_after: int | None
    available_after: int | None
    reason: str
    reference_type: str | None
    reference_id: str | None
    created_at: datetime

    @classmethod
    def of(cls, line: LedgerLine) -> LedgerLineOut:
        return cls(**line.__dict__)


class OpenCheckoutOut(BaseModel):
    """A checkout holding the member's points (docs/loyalty.md, points at checkout)."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    external_id: str
    order_amount: Decimal
    currency: str
    points: int
    value: Decimal
    status: str
    expires_at: datetime
    created_at: datetime


class Member360Out(MemberOut):
    points: PointsOut
    recent_orders: list[OrderOut]
    recent_ledger: list[LedgerLineOut]
    recent_messages: list[MessageSummaryOut]
    expiries: ExpiriesOut
    tier_history: list[TierChangeOut]  # newest first (docs/loyalty.md, "Tiers that requalify")
    open_checkouts: list[OpenCheckoutOut] = []
    # The paid plan active now and its benefits (`free_shipping` for the shop's checkout); null without one.
    paid_plan: PlanBenefitsOut | None = None
    # The member's referral code and link, their referrer, the friends they referred (docs/loyalty.md, "Referrals").
    referral: MemberReferralOut | None = None
    links: dict[str, str]

    @classmethod
    def of_view(cls, v: MemberView, *, temporal_ui: str, namespace: str, view: View) -> Member360Out:
        base = MemberOut.of(v.member, view).model_dump()
        return cls(
            **base,
            points=PointsOut.of(v.points),
            recent_orders=[OrderOut.model_validate(o) for o in v.recent_orders],
            recent_ledger=[LedgerLineOut.of(line) for line in v.recent_ledger],
            recent_messages=[
                MessageSummaryOut.model_validate(m).model_copy(
                    update={"reason": view.apply("messages", "reason", m.reason)}
                )
                for m in v.recent_messages
            ],
            expiries=ExpiriesOut.of(v.expiries),
            tier_history=[TierChangeOut.model_validate(c) for c in v.tier_history],
            open_checkouts=[OpenCheckoutOut.model_validate(c) for c in v.open_checkouts],
            paid_plan=PlanBenefitsOut.of(v.paid_plan),
            referral=MemberReferralOut.of(v.referral),
            links=member_links(v.member.id, temporal_ui=temporal_ui, namespace=namespace),
        )


def member_links(member_id: uuid.UUID, *, temporal_ui: str, namespace: str) -> dict[str, str]:
    """The member's runs in the Temporal UI."""
    return MemberLinks(temporal_ui=temporal_ui, namespace=namespace).of(member_id)


class MemberLinks:
    """`member_links` with the Temporal UI prefixes built once: the API keeps one per process, since the
    360 is its hottest read and building the prefixes took as long as a dependency resolution."""

    def __init__(self, *, temporal_ui: str, namespace: str, public_url: str | None = None) -> None:
        self._workflows = f"{temporal_ui.rstrip('/')}/namespaces/{namespace}/workflows"
        # The referral link up to the code (services.analytics.member360.join_prefix).
        self.referral_join = join_prefix(public_url)
        self._runs_query = f"{self._workflows}?query={contracts.MEMBER_ID.name}%3D%22"

    def of(self, member_id: uuid.UUID) -> dict[str, str]:
        return {
            "journeys": f"{self._runs_query}{member_id}%22",
            "welcome_journey": f"{self._workflows}/{contracts.journey_workflow_id('welcome', member_id)}",
        }


class MemberPage(Page[MemberOut]):
    """Members, newest first."""
