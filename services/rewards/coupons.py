"""Coupons: templates marketers define, coupons issued to members from them, and redemption at the till."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)
from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import Conflict, InvalidInput, NotFound
from core.ids import uuid7
from models import Coupon, CouponTemplate, Member
from services.loyalty.money import CENT, Money
from services.platform import audit
from services.platform.audit import Actor

# 32 symbols without 0/O and 1/I, so a code read aloud or typed from paper is unambiguous (5 bits each).
CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
CODE_GROUPS = 3
CODE_GROUP_LENGTH = 4


class CouponKind(StrEnum):
    PERCENT = "percent"
    AMOUNT = "amount"


class CouponStatus(StrEnum):
    ISSUED = "issued"
    REDEEMED = "redeemed"
    EXPIRED = "expired"


def _normalize_code(value: object) -> object:
    # Anything but a string is left for the str validation to refuse with a 422.
    return value.strip().upper() if isinstance(value, str) else value


TemplateCode = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]{2,64}$")]
CouponCode = Annotated[str, BeforeValidator(_normalize_code), StringConstraints(min_length=1, max_length=32)]
IssueKey = Annotated[str, StringConstraints(pattern=r"^[\x21-\x7e]{1,255}$")]
OrderRef = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]


class TemplateCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: TemplateCode
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    kind: CouponKind
    value: Money
    min_spend: Money = Decimal("0")
    validity_days: int = Field(ge=1, le=3650)
    per_member_limit: int | None = Field(default=None, ge=1, le=10_000)
    active: bool = True

    @field_validator("value")
    @classmethod
    def _value_fits_kind(cls, value: Decimal, info: ValidationInfo) -> Decimal:
        if value <= 0:
            raise ValueError("must be greater than 0")
        if info.data.get("kind") == CouponKind.PERCENT and value > 100:
            raise ValueError("a percent coupon takes a value above 0 and at most 100")
        return value


class CouponIssue(BaseModel):
    model_config = ConfigDict(extra="forbid")

    template_code: TemplateCode
    member_id: uuid.UUID
    # The same key returns the coupon it first issued, e.g. "journey:welcome:<member id>".
    issue_key: IssueKey | None = None


class CouponRedeem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: CouponCode
    member_id: uuid.UUID
    # Needed for the discount, and for coupons with a minimum spend; without it the discount is null.
    order_amount: Money | None = None
    order_ref: OrderRef | None = None


@dataclass(frozen=True)
class CouponView:
    """A coupon with its template and the status a reader should see (issued but past expiry: expired)."""

    coupon: Coupon
    template: CouponTemplate
    status: CouponStatus


@dataclass(frozen=True)
class Redeemed:
    coupon: CouponView
    # None when no order amount was given.
    discount: Decimal | None


def new_code() -> str:
    groups = ("".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_GROUP_LENGTH)) for _ in range(CODE_GROUPS))
    return "MF-" + "-".join(groups)


def effective_status(status: str, expires_at: datetime, now: datetime) -> CouponStatus:
    if status == CouponStatus.ISSUED and expires_at <= now:
        return CouponStatus.EXPIRED
    return CouponStatus(status)


def discount_for(template: CouponTemplate, order_amount: Decimal | None) -> Decimal | None:
    """Percent off rounds half-up to the cent; neither kind takes more than the order is worth."""
    if order_amount is None:
        return None
    if template.kind == CouponKind.PERCENT:
        off = (order_amount * template.value / 100).quantize(CENT, rounding=ROUND_HALF_UP)
    else:
        off = template.value
    return min(off, order_amount).quantize(CENT)


# Templates


async def create_template(session: AsyncSession, data: TemplateCreate, *, actor: Actor | None = None) -> CouponTemplate:
    """A new template; audited as `coupon_template.create` when an `actor` creates it (seeding passes none)."""
    template_id = (
        await session.execute(
            insert(CouponTemplate)
            .values(
                id=uuid7(),
                code=data.code,
                name=data.name,
                kind=data.kind.value,
                value=data.value,
                min_spend=data.min_spend,
                validity_days=data.validity_days,
                per_member_limit=data.per_member_limit,
                active=data.active,
            )
            .on_conflict_do_nothing(index_elements=["code"])
            .returning(CouponTemplate.id)
        )
    ).scalar_one_or_none()
    if template_id is None:
        raise Conflict(
            f"a coupon template with code {data.code!r} already exists",
            code="template_exists",
            details={"code": data.code},
        )
    if actor is not None:
        await audit.record(
            session, actor, action="coupon_template.create", target_type="coupon_template", target_id=data.code
        )
    return (await session.execute(select(CouponTemplate).where(CouponTemplate.id == template_id))).scalar_one()


async def list_templates(session: AsyncSession) -> list[CouponTemplate]:
    return list((await session.execute(select(CouponTemplate).order_by(CouponTemplate.code))).scalars().all())


async def _template_by_code(session: AsyncSession, code: str) -> CouponTemplate:
    template = (await session.execute(select(CouponTemplate).where(CouponTemplate.code == code))).scalar_one_or_none()
    if template is None:
        raise NotFound(f"coupon template {code!r} does not exist", code="template_not_found")
    return template


# Issuing


async def _lock_member(session: AsyncSession, member_id: uuid.UUID) -> None:
    """Serializes issuance per member so the per-member limit holds under concurrency. FOR NO KEY UPDATE
    (the FOR UPDATE that does not block foreign-key checks) so inserts that only reference the member,
    such as events and coupons, are not held up."""
    found = (
        await session.execute(select(Member.id).where(Member.id == member_id).with_for_update(key_share=True))
    ).scalar_one_or_none()
    if found is None:
        raise NotFound(f"member {member_id} does not exist", code="member_not_found")


async def _issued_count(session: AsyncSession, member_id: uuid.UUID, template_id: uuid.UUID) -> int:
    count = (
        await session.execute(
            select(func.count()).where(Coupon.member_id == member_id, Coupon.template_id == template_id)
        )
    ).scalar_one()
    return int(count)


async def _views(session: AsyncSession, *where: ColumnElement[bool], limit: int | None = None) -> list[CouponView]:
    """Coupons with their templates, newest first, judged at the transaction's clock."""
    stmt = (
        select(Coupon, CouponTemplate, func.now())
        .join(CouponTemplate, CouponTemplate.id == Coupon.template_id)
        .where(*where)
        .order_by(Coupon.id.desc())
        .limit(limit)
        # A redemption updates the row behind the session's back; read what the database now holds.
        .execution_options(populate_existing=True)
    )
    return [
        CouponView(coupon, template, effective_status(coupon.status, coupon.expires_at, now))
        for coupon, template, now in (await session.execute(stmt)).all()
    ]


async def _view(session: AsyncSession, coupon_id: uuid.UUID) -> CouponView:
    return (await _views(session, Coupon.id == coupon_id))[0]


async def _existing_for_key(session: AsyncSession, data: CouponIssue) -> CouponView | None:
    if data.issue_key is None:
        return None
    found = await _views(session, Coupon.issue_key == data.issue_key)
    if not found:
        return None
    view = found[0]
    if view.coupon.member_id != data.member_id or view.template.code != data.template_code:
        raise Conflict(
            f"issue_key {data.issue_key!r} already issued a coupon for another member or template",
            code="issue_key_conflict",
            details={"issue_key": data.issue_key},
        )
    return view


async def issue(session: AsyncSession, data: CouponIssue, *, actor: Actor | None = None) -> CouponView:
    """Issue a coupon from a template. With an issue_key, a repeat returns the coupon first issued. Audited as
    `coupon.issue` when a person issues it (`actor`); journeys, rules and the shop pass none."""
    await _lock_member(session, data.member_id)
    replay = await _existing_for_key(session, data)
    if replay is not None:
        return replay
    template = await _template_by_code(session, data.template_code)
    if not template.active:
        raise Conflict(f"coupon template {template.code!r} is not active", code="template_inactive")
    if template.per_member_limit is not None:
        issued = await _issued_count(session, data.member_id, template.id)
        if issued >= template.per_member_limit:
            raise Conflict(
                f"template {template.code!r} allows {template.per_member_limit} coupon(s) per member, "
                "and this member has had them",
                code="coupon_limit_reached",
                details={"limit": template.per_member_limit, "issued": issued},
            )
    for _ in range(3):
        # ON CONFLICT covers both unique keys: a (vanishingly unlikely) code collision draws a new code; an
        # issue_key taken by a concurrent request for another member is reported below.
        coupon_id = (
            await session.execute(
                insert(Coupon)
                .values(
                    id=uuid7(),
                    code=new_code(),
                    template_id=template.id,
                    member_id=data.member_id,
                    status=CouponStatus.ISSUED.value,
                    issued_at=func.now(),
                    expires_at=func.now() + timedelta(days=template.validity_days),
                    issue_key=data.issue_key,
                )
                .on_conflict_do_nothing()
                .returning(Coupon.id)
            )
        ).scalar_one_or_none()
        if coupon_id is not None:
            if actor is not None:
                details = {"template": template.code, "member_id": str(data.member_id)}
                await audit.record(
                    session,
                    actor,
                    action="coupon.issue",
                    target_type="coupon",
                    target_id=str(coupon_id),
                    details=details,
                )
            return await _view(session, coupon_id)
        replay = await _existing_for_key(session, data)
        if replay is not None:
            return replay
    raise RuntimeError("could not draw an unused coupon code in 3 attempts")


# Redeeming


@dataclass(frozen=True)
class _State:
    status: CouponStatus
    min_spend: Decimal


async def _state(session: AsyncSession, code: str, member_id: uuid.UUID) -> _State | None:
    """The coupon as this member may see it, judged at the transaction's clock (the same `now()` the
    conditional update uses). Another member's code reads as absent: codes are not to be probed."""
    row = (
        await session.execute(
            select(Coupon.status, Coupon.expires_at, CouponTemplate.min_spend, func.now())
            .join(CouponTemplate, CouponTemplate.id == Coupon.template_id)
            .where(Coupon.code == code, Coupon.member_id == member_id)
        )
    ).one_or_none()
    if row is None:
        return None
    status, expires_at, min_spend, now = row
    return _State(effective_status(status, expires_at, now), min_spend)


def _usable(state: _State | None, code: str) -> _State:
    if state is None:
        raise NotFound(f"coupon {code} does not exist for this member", code="coupon_not_found")
    if state.status == CouponStatus.REDEEMED:
        raise Conflict(f"coupon {code} has already been used", code="coupon_used")
    if state.status == CouponStatus.EXPIRED:
        raise Conflict(f"coupon {code} has expired", code="coupon_expired")
    return state


async def redeem(session: AsyncSession, data: CouponRedeem) -> Redeemed:
    """Mark a coupon used, once. The conditional UPDATE is the guard against concurrent redemptions; the
    reads around it only give the caller the precise reason."""
    state = _usable(await _state(session, data.code, data.member_id), data.code)
    # Without an order amount a minimum spend cannot be checked, so such a coupon needs one.
    below = data.order_amount < state.min_spend if data.order_amount is not None else state.min_spend > 0
    if below:
        raise InvalidInput(
            f"coupon {data.code} needs an order_amount of at least {state.min_spend}",
            code="coupon_min_spend",
            details={
                "min_spend": str(state.min_spend),
                "order_amount": None if data.order_amount is None else str(data.order_amount),
            },
        )
    redeemed_id = (
        await session.execute(
            update(Coupon)
            .where(
                Coupon.code == data.code,
                Coupon.member_id == data.member_id,
                Coupon.status == CouponStatus.ISSUED.value,
                Coupon.expires_at > func.now(),
            )
            .values(status=CouponStatus.REDEEMED.value, redeemed_at=func.now(), redeemed_order_ref=data.order_ref)
            .returning(Coupon.id)
            .execution_options(synchronize_session=False)
        )
    ).scalar_one_or_none()
    if redeemed_id is None:
        # Lost a race with another redemption since the read above: say why, as that read would now.
        _usable(await _state(session, data.code, data.member_id), data.code)
        raise Conflict(f"coupon {data.code} could not be redeemed", code="coupon_used")
    view = await _view(session, redeemed_id)
    return Redeemed(coupon=view, discount=discount_for(view.template, data.order_amount))


# Reading


async def list_member_coupons(session: AsyncSession, member_id: uuid.UUID, *, limit: int = 100) -> list[CouponView]:
    """Newest first, with the effective status."""
    exists = (await session.execute(select(Member.id).where(Member.id == member_id))).scalar_one_or_none()
    if exists is None:
        raise NotFound(f"member {member_id} does not exist", code="member_not_found")
    return await _views(session, Coupon.member_id == member_id, limit=limit)
