"""Members: create, read, update and search the member record."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field, StringConstraints
from sqlalchemy import func, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import Conflict, NotFound
from core.ids import uuid7
from models import Member
from services.definitions import Name as DefinitionName
from services.members.fields import merged_attributes
from services.platform import audit
from services.platform.audit import Actor

_LOCALE = re.compile(r"^[a-z]{2,3}(-[A-Z][a-z]{3})?(-([A-Z]{2}|[0-9]{3}))?$")
_PHONE = re.compile(r"^\+[1-9][0-9]{6,14}$")


def _timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown IANA time zone {value!r} (e.g. 'Asia/Shanghai', 'Europe/Paris')") from exc
    return value


def _locale(value: str) -> str:
    if not _LOCALE.match(value):
        raise ValueError("locale must be a BCP 47 tag such as 'en', 'en-GB' or 'zh-Hans-CN'")
    return value


def _phone(value: str) -> str:
    if not _PHONE.match(value):
        raise ValueError("phone must be in E.164 form, e.g. '+8613800138000'")
    return value


def _birthday(value: date) -> date:
    if value.year < 1900 or value > datetime.now(UTC).date():
        raise ValueError("birthday must be a past date after 1900")
    return value


ExternalId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Timezone = Annotated[str, AfterValidator(_timezone)]
Locale = Annotated[str, AfterValidator(_locale)]
Phone = Annotated[str, AfterValidator(_phone)]
Birthday = Annotated[date, AfterValidator(_birthday)]
# Tags as rules and journeys write them (services.definitions.Name), so every tag set here can be tested by a
# segment or a condition and added or removed by a rule or journey action.
Tag = DefinitionName
MAX_TAGS = 50
MAX_ATTRIBUTES = 100


def _distinct(tags: list[str]) -> list[str]:
    return list(dict.fromkeys(tags))


Tags = Annotated[list[Tag], Field(max_length=MAX_TAGS), AfterValidator(_distinct)]
Attributes = Annotated[
    dict[str, Any],
    Field(
        max_length=MAX_ATTRIBUTES,
        description="Custom member field values by key, checked against GET /api/v1/member-fields",
    ),
]


class Consent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: bool = False
    sms: bool = False


class ConsentUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: bool | None = None
    sms: bool | None = None


class MemberProfile(BaseModel):
    """The member's own fields as a new member brings them, checked the same way wherever members come in
    (the API's sign-up, a history import's row)."""

    model_config = ConfigDict(extra="forbid")

    external_id: ExternalId
    name: Name | None = None
    email: EmailStr | None = Field(default=None, max_length=320)
    phone: Phone | None = None
    birthday: Birthday | None = None
    timezone: Timezone = "UTC"
    locale: Locale = "en"


class MemberCreate(MemberProfile):
    consent: Consent = Consent()
    tags: Tags = Field(default_factory=list)
    attributes: Attributes = Field(default_factory=dict)


class MemberUpdate(BaseModel):
    """Only the fields present in the request change; an explicit null clears an optional field."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    email: EmailStr | None = Field(default=None, max_length=320)
    phone: Phone | None = None
    birthday: Birthday | None = None
    timezone: Timezone | None = None
    locale: Locale | None = None
    consent: ConsentUpdate | None = None
    # `tags` replaces the member's tags; `attributes` sets the fields it names (null removes a value) and keeps
    # the others.
    tags: Tags | None = None
    attributes: Attributes | None = None


_NOT_NULLABLE = {"timezone", "locale", "tags"}


async def create(
    session: AsyncSession,
    data: MemberCreate,
    *,
    source: str,
    joined_at: datetime | None = None,
    signed_up_from: str | None = None,
) -> Member:
    """Insert the member row; `joined_at` backdates the sign-up (and the consent it recorded) for a bulk import;
    `signed_up_from` is the registration link's channel or store code (members.source), for portal sign-ups.
    Opening the points account and starting journeys is the sign-up's job (services.intake.signups)."""
    if joined_at is not None and (joined_at.tzinfo is None or joined_at > datetime.now(UTC)):
        raise ValueError("joined_at must be a time zone-aware moment in the past")
    now = joined_at or datetime.now(UTC)
    values: dict[str, Any] = data.model_dump(exclude={"consent", "tags", "attributes"})
    attributes = await merged_attributes(session, {}, data.attributes, creating=True)
    member_id = uuid7()
    values.update(
        id=member_id,
        tier="member",
        tags=list(data.tags),
        attributes=attributes,
        lifetime_spend=Decimal("0"),
        order_count=0,
        consent_email=data.consent.email,
        consent_sms=data.consent.sms,
        consent_email_at=now,
        consent_email_source=source,
        consent_sms_at=now,
        consent_sms_source=source,
        source=signed_up_from,
    )
    if joined_at is not None:
        values["created_at"] = joined_at
    # RETURNING the whole row (server defaults included) instead of reading it back with a SELECT.
    member = (
        await session.execute(
            insert(Member).values(**values).on_conflict_do_nothing(index_elements=["external_id"]).returning(Member)
        )
    ).scalar_one_or_none()
    if member is None:
        existing = await _id_by_external_id(session, data.external_id)
        raise Conflict(
            f"a member with external_id {data.external_id!r} already exists",
            code="member_exists",
            details={"external_id": data.external_id, "member_id": str(existing)},
        )
    return member


async def _id_by_external_id(session: AsyncSession, external_id: str) -> uuid.UUID | None:
    return (await session.execute(select(Member.id).where(Member.external_id == external_id))).scalar_one_or_none()


async def get(session: AsyncSession, member_id: uuid.UUID, *, for_update: bool = False) -> Member:
    stmt = select(Member).where(Member.id == member_id)
    if for_update:
        stmt = stmt.with_for_update()
    member = (await session.execute(stmt)).scalar_one_or_none()
    if member is None:
        raise NotFound(f"member {member_id} does not exist", code="member_not_found")
    return member


async def get_active(session: AsyncSession, member_id: uuid.UUID, *, for_update: bool = False) -> Member:
    """The member, unless erased: new events, orders, redemptions and profile changes for an erased member are
    refused with 409 `member_erased` (services.privacy), so nothing personal is collected about them again."""
    member = await get(session, member_id, for_update=for_update)
    if member.erased_at is not None:
        raise Conflict(f"member {member_id} was erased: nothing more is recorded about them", code="member_erased")
    return member


async def update(
    session: AsyncSession, member_id: uuid.UUID, data: MemberUpdate, *, source: str, actor: Actor | None = None
) -> Member:
    """Change the fields present. Audited as `member.update` when a person changes them (`actor`), with the
    names of the fields changed and never their values (personal data stays out of the log)."""
    member = await get_active(session, member_id, for_update=True)
    changes = data.model_dump(exclude_unset=True, exclude={"consent", "attributes"})
    if data.attributes is not None:
        member.attributes = await merged_attributes(session, member.attributes or {}, data.attributes, creating=False)
    for field, value in changes.items():
        if value is None and field in _NOT_NULLABLE:
            continue
        setattr(member, field, value)
    if data.consent is not None:
        now = datetime.now(UTC)
        if data.consent.email is not None and data.consent.email != member.consent_email:
            member.consent_email, member.consent_email_at, member.consent_email_source = data.consent.email, now, source
        if data.consent.sms is not None and data.consent.sms != member.consent_sms:
            member.consent_sms, member.consent_sms_at, member.consent_sms_source = data.consent.sms, now, source
    await session.flush()
    await session.refresh(member)
    if actor is not None:
        fields = sorted(data.model_dump(exclude_unset=True))
        details = {"fields": fields}
        await audit.record(
            session, actor, action="member.update", target_type="member", target_id=str(member.id), details=details
        )
    return member


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def search(
    session: AsyncSession, *, query: str | None, tier: str | None, limit: int, after: uuid.UUID | None
) -> list[Member]:
    """Newest first; `after` is the last id of the previous page (ids are time-ordered)."""
    stmt = select(Member)
    if query:
        pattern = f"%{_escape_like(query)}%"
        stmt = stmt.where(
            or_(
                Member.external_id == query,
                Member.email.ilike(pattern, escape="\\"),
                Member.name.ilike(pattern, escape="\\"),
                Member.phone == query,
            )
        )
    if tier:
        stmt = stmt.where(Member.tier == tier)
    if after is not None:
        stmt = stmt.where(Member.id < after)
    return list((await session.execute(stmt.order_by(Member.id.desc()).limit(limit))).scalars().all())


async def lookup(session: AsyncSession, reference: str, *, limit: int = 5) -> list[Member]:
    """The members a person means by `reference` when they type who a ticket is for: the one with that external
    id, else those with that email (any case; emails are not unique). Erased members have neither any more."""
    reference = reference.strip()
    if not reference:
        return []
    by_id = (await session.execute(select(Member).where(Member.external_id == reference))).scalar_one_or_none()
    if by_id is not None:
        return [by_id]
    stmt = select(Member).where(func.lower(Member.email) == reference.lower()).order_by(Member.id.desc())
    return list((await session.execute(stmt.limit(limit))).scalars())


async def names(session: AsyncSession, member_ids: list[uuid.UUID]) -> dict[uuid.UUID, str | None]:
    """The names of these members (None where a member has none, or was erased), for lists that show a sample."""
    if not member_ids:
        return {}
    rows = await session.execute(select(Member.id, Member.name).where(Member.id.in_(member_ids)))
    return {row.id: row.name for row in rows}


async def change_tags(session: AsyncSession, member_id: uuid.UUID, *, add: list[str], remove: list[str]) -> list[str]:
    """Add and remove tags (flags such as `pre_churn` are tags too); idempotent."""
    member = await get(session, member_id, for_update=True)
    tags = [tag for tag in member.tags if tag not in remove]
    tags += [tag for tag in add if tag not in tags]
    if tags != list(member.tags):
        member.tags = tags
        await session.flush()
    return tags
