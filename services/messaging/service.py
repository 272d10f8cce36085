"""Messaging: whether, when and what to send a member, and the message log.

The send sequence is driven by activities/messaging.py (its docstring explains why it sends exactly once where
the provider allows it, and at most once otherwise); this module holds its first step and the row's moves.
`prepare` decides (consent, address, quiet hours, frequency cap, rendering) and writes the row under its unique
key as `queued`, or as `suppressed`/`failed`; services.messaging.delivery then claims it, hands it to the
provider (it becomes `sending` right before the hand-over) and records the answer. A row a later attempt finds
`sending` belonged to an attempt that died with the provider's answer unknown: it is marked failed, never sent
again by itself (ops may resend it on purpose). Services do not commit; the activity commits between the steps.
Templates live in services.messaging.templates, unsubscribe links and opt-outs in services.messaging.consent."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import NotFound
from core.ids import uuid7
from core.settings import MessagingSettings, PortalSettings
from models import Member, Message, Survey, SurveySend
from services.messaging import templates
from services.messaging.consent import OptOutSource, unsubscribe_url
from services.messaging.templates import Channel, Rendered, RenderError, member_zone, seed_builtin_templates
from services.messaging.variables import used_names
from services.platform import signed
from workflows.contracts import SURVEY_SEND_CONTEXT

__all__ = ["seed_builtin_templates"]  # re-exported: start-up seeding calls messaging.seed_builtin_templates

FREQUENCY_WINDOW = timedelta(days=7)
UNKNOWN_OUTCOME = "outcome unknown after a crash; not resent to avoid a duplicate"


class Category(StrEnum):
    MARKETING = "marketing"
    TRANSACTIONAL = "transactional"


class MessageStatus(StrEnum):
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    SUPPRESSED = "suppressed"
    FAILED = "failed"


# Messages that count toward the frequency cap: sent, or on their way.
_COUNTED = (MessageStatus.QUEUED, MessageStatus.SENDING, MessageStatus.SENT, MessageStatus.DELIVERED)


class Suppression(StrEnum):
    MEMBER_MISSING = "member_missing"
    NO_CONSENT = "no_consent"
    OPTED_OUT = "opted_out"
    NO_EMAIL = "no_email"
    NO_PHONE = "no_phone"
    FREQUENCY_CAP = "frequency_cap"
    ERASED = "member_erased"


@dataclass(frozen=True)
class SendRequest:
    message_key: str
    member_id: uuid.UUID
    channel: Channel
    template: str
    category: Category = Category.MARKETING
    journey_kind: str | None = None
    campaign_id: str | None = None
    coupon_code: str | None = None
    context: dict[str, str] = field(default_factory=dict)
    # A portal sign-in request: the message carries its one-time code as {{ sign_in_code }}, derived here from
    # the request id, so the code is never in a workflow's input; the message log keeps it masked.
    sign_in_request: uuid.UUID | None = None


@dataclass(frozen=True)
class Outcome:
    """Where a message stands when it is not going to the provider in this attempt: `status` is a final
    MessageStatus, or "deferred" with `retry_at`."""

    status: str
    message_id: uuid.UUID | None
    reason: str | None = None
    retry_at: datetime | None = None


@dataclass(frozen=True)
class Outgoing:
    """A message recorded as `queued`, rendered and addressed, ready to be claimed and sent."""

    message_id: uuid.UUID
    message_key: str
    channel: Channel
    category: Category
    to: str
    rendered: Rendered
    unsubscribe_url: str | None
    # The attempt that held the row when this one found it (it died before the hand-over), if any.
    claimed_by: str | None = None


class _Undeliverable(Exception):
    """The message cannot be built (no template, a render error, no signing key): it fails for good."""


PORTAL_LINK_PURPOSE = "sign_in"
SURVEY_LINK_PURPOSE = "survey"
MASKED_CODE = "••••••"


def portal_link(public_url: str, secret_key: str, member_id: uuid.UUID, *, expires_at: datetime) -> str:
    """A link that signs the member in to the portal until `expires_at` ({{ portal_link }} in templates)."""
    token = signed.sign_link(secret_key, member_id, PORTAL_LINK_PURPOSE, expires_at)
    return f"{public_url.rstrip('/')}/portal/l/{token}"


def survey_link(public_url: str, secret_key: str, send_id: uuid.UUID, *, expires_at: datetime) -> str:
    """The answer page of one survey send until `expires_at` ({{ survey_link }} in a survey invitation). The
    token signs the send's id, not the member's: it answers that one send and signs nobody in."""
    token = signed.sign_link(secret_key, send_id, SURVEY_LINK_PURPOSE, expires_at)
    return f"{public_url.rstrip('/')}/portal/s/{token}"


def _survey_send(req: SendRequest) -> uuid.UUID | None:
    raw = req.context.get(SURVEY_SEND_CONTEXT)
    if raw is None:
        return None
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise _Undeliverable(f"{SURVEY_SEND_CONTEXT} {raw!r} is not a survey send id") from None


async def _survey_title(session: AsyncSession, send_id: uuid.UUID, member: Member) -> str:
    """The title of the survey a send asks, in the member's language; the send must be this member's."""
    stmt = (
        select(Survey.title_en, Survey.title_zh_cn)
        .join(SurveySend, SurveySend.survey_id == Survey.id)
        .where(SurveySend.id == send_id, SurveySend.member_id == member.id)
    )
    row = (await session.execute(stmt)).one_or_none()
    if row is None:
        raise _Undeliverable(f"survey send {send_id} is not this member's")
    return str(row.title_zh_cn if (member.locale or "").lower().startswith("zh") else row.title_en)


def _link_variables(
    req: SendRequest, member: Member, *, now: datetime, public_url: str, portal: PortalSettings, secret_key: str | None
) -> dict[str, str]:
    """`portal_link` (empty without a signing key), for a sign-in message `sign_in_code`, and for a survey
    invitation (its send id in the context) `survey_link`, signed here so the link never travels through a
    workflow's input or history."""
    extra = {"portal_link": "", "survey_link": ""}
    if secret_key:
        expires = now + timedelta(minutes=portal.link_minutes)
        extra["portal_link"] = portal_link(public_url, secret_key, member.id, expires_at=expires)
    send_id = _survey_send(req)
    if send_id is not None:
        if not secret_key:
            raise _Undeliverable("secret_key is not set: survey links are signed with it")
        expires = now + timedelta(days=portal.survey_link_days)
        extra["survey_link"] = survey_link(public_url, secret_key, send_id, expires_at=expires)
    if req.sign_in_request is not None:
        if not secret_key:
            raise _Undeliverable("secret_key is not set: portal sign-in codes are derived from it")
        extra["sign_in_code"] = signed.sign_in_code(secret_key, req.sign_in_request)
    return extra


def _masked(rendered: Rendered, code: str | None) -> Rendered:
    """What the message log keeps: the rendering with a sign-in code blanked (staff read the log)."""
    if not code:
        return rendered
    return Rendered(
        locale=rendered.locale,
        subject=rendered.subject.replace(code, MASKED_CODE) if rendered.subject else rendered.subject,
        body=rendered.body.replace(code, MASKED_CODE),
    )


def _clock(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def quiet_hours_end(now: datetime, timezone: str, *, start: str, end: str) -> datetime | None:
    """When quiet hours end (UTC), if `now` falls inside them in the member's time zone; None otherwise.
    A window whose start is after its end runs over midnight (21:00-09:00); equal bounds disable it."""
    opens, closes = _clock(start), _clock(end)
    if opens == closes:
        return None
    zone = member_zone(timezone)
    local = now.astimezone(zone)
    moment = local.time().replace(tzinfo=None)
    if not (opens <= moment < closes if opens < closes else (moment >= opens or moment < closes)):
        return None
    day = local.date() if moment < closes else local.date() + timedelta(days=1)
    return datetime.combine(day, closes, tzinfo=zone).astimezone(UTC)


def suppression_for(member: Member, channel: Channel, category: Category) -> Suppression | None:
    """Marketing needs consent on its channel. Transactional email does not (a member who unsubscribed still
    hears about their redemption); SMS always does, because carriers treat STOP as absolute. Erased: never."""
    if member.erased_at is not None:
        return Suppression.ERASED
    email = channel == Channel.EMAIL
    consent = member.consent_email if email else member.consent_sms
    source = member.consent_email_source if email else member.consent_sms_source
    if not consent and (category == Category.MARKETING or not email):
        return Suppression.OPTED_OUT if source in set(OptOutSource) else Suppression.NO_CONSENT
    if not (member.email if email else member.phone):
        return Suppression.NO_EMAIL if email else Suppression.NO_PHONE
    return None


async def _render_for(
    session: AsyncSession,
    req: SendRequest,
    member: Member,
    *,
    now: datetime,
    settings: MessagingSettings,
    portal: PortalSettings,
    secret_key: str | None,
) -> tuple[Rendered, str | None, dict[str, str]]:
    template = await templates.resolve(session, req.template, req.channel, member.locale)
    if template is None:
        raise _Undeliverable(f"no {req.channel} template {req.template!r} for locale {member.locale} or English")
    marketing = req.category == Category.MARKETING
    link = None
    if marketing and req.channel == Channel.EMAIL:
        if not secret_key:
            raise _Undeliverable("secret_key is not set: marketing email needs a signed unsubscribe link")
        link = unsubscribe_url(settings.public_url, secret_key, member.id, Channel.EMAIL)
    extra = _link_variables(req, member, now=now, public_url=settings.public_url, portal=portal, secret_key=secret_key)
    send_id = _survey_send(req)
    if send_id is not None:
        extra["survey_title"] = await _survey_title(session, send_id, member)
    try:
        variables = await templates.template_variables(
            session,
            member,
            coupon_code=req.coupon_code,
            data=req.context,
            brand=settings.brand_name,
            extra=extra,
            used=used_names(template),
        )
        rendered = templates.render(
            template, variables, marketing=marketing, unsubscribe_url=link, brand=settings.brand_name
        )
    except (NotFound, RenderError) as exc:
        raise _Undeliverable(str(exc)) from exc
    return rendered, link, extra


# The send steps
async def _member(session: AsyncSession, member_id: uuid.UUID) -> Member | None:
    stmt = select(Member).where(Member.id == member_id).execution_options(populate_existing=True)
    return (await session.execute(stmt)).scalar_one_or_none()


async def find(session: AsyncSession, message_key: str) -> Message | None:
    stmt = select(Message).where(Message.message_key == message_key).execution_options(populate_existing=True)
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_message(session: AsyncSession, message_id: uuid.UUID) -> Message:
    stmt = select(Message).where(Message.id == message_id).execution_options(populate_existing=True)
    return (await session.execute(stmt)).scalar_one()


def outcome_of(message: Message) -> Outcome:
    return Outcome(status=message.status, message_id=message.id, reason=message.reason)


async def settle(session: AsyncSession, message: Message) -> Outcome:
    """A row a previous attempt left. Final: report it. `sending`: that attempt died after (perhaps) handing
    the message to the provider, so at-most-once wins over a possible duplicate."""
    if message.status == MessageStatus.SENDING:
        await transition(
            session, message.id, Message.status == MessageStatus.SENDING, MessageStatus.FAILED, UNKNOWN_OUTCOME
        )
        message = await get_message(session, message.id)
    return outcome_of(message)


async def transition(
    session: AsyncSession,
    message_id: uuid.UUID,
    guard: ColumnElement[bool],
    status: str,
    reason: str | None,
    **values: Any,
) -> Outcome | None:
    """Move the row on if `guard` holds; where it stands then (from RETURNING, no second read), or None."""
    changed = (
        await session.execute(
            update(Message)
            .where(Message.id == message_id, guard)
            .values(status=status, reason=reason, updated_at=func.now(), **values)
            .returning(Message.status, Message.reason)
            .execution_options(synchronize_session=False)
        )
    ).one_or_none()
    return None if changed is None else Outcome(status=changed.status, message_id=message_id, reason=changed.reason)


async def _record(
    session: AsyncSession,
    req: SendRequest,
    *,
    now: datetime,
    status: MessageStatus,
    reason: str | None = None,
    rendered: Rendered | None = None,
) -> Message:
    """Write the message under its unique key, or overwrite the `queued` row of an earlier attempt (RETURNING
    gives the row back). A row another attempt has moved on meanwhile returns nothing, and is read as it is."""
    values = {
        "status": status.value,
        "reason": reason,
        "locale": rendered.locale if rendered else None,
        "subject": rendered.subject if rendered else None,
        "body": rendered.body if rendered else None,
    }
    stmt = insert(Message).values(
        id=uuid7(),
        message_key=req.message_key,
        member_id=req.member_id,
        channel=req.channel.value,
        template=req.template,
        category=req.category.value,
        journey_kind=req.journey_kind,
        campaign_id=req.campaign_id,
        created_at=now,
        **values,
    )
    upsert = stmt.on_conflict_do_update(
        index_elements=["message_key"],
        set_={**values, "updated_at": func.now()},
        where=Message.status == MessageStatus.QUEUED,
    )
    written = await session.execute(upsert.returning(Message).execution_options(populate_existing=True))
    found = written.scalar_one_or_none() or await find(session, req.message_key)
    assert found is not None
    return found


async def _lock_member_messages(session: AsyncSession, member_id: uuid.UUID) -> None:
    """Serialize frequency-cap decisions per member (a transaction lock, not a row lock, so the member row
    stays free for order ingestion)."""
    await session.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(f"messages:{member_id}", 0))))


async def _marketing_count(session: AsyncSession, member_id: uuid.UUID, *, since: datetime, exclude_key: str) -> int:
    count = (
        await session.execute(
            select(func.count()).where(
                Message.member_id == member_id,
                Message.category == Category.MARKETING,
                Message.status.in_(_COUNTED),
                Message.created_at > since,
                Message.message_key != exclude_key,
            )
        )
    ).scalar_one()
    return int(count)


async def prepare(
    session: AsyncSession,
    req: SendRequest,
    *,
    now: datetime,
    settings: MessagingSettings,
    secret_key: str | None,
    portal: PortalSettings | None = None,
) -> Outcome | Outgoing:
    """Decide what happens to a message now and record it: an Outgoing (`queued`, to be claimed and sent),
    or an Outcome (already settled, suppressed, failed, or deferred by quiet hours, which writes nothing)."""
    existing = await find(session, req.message_key)
    if existing is not None and existing.status != MessageStatus.QUEUED:
        return await settle(session, existing)
    member = await _member(session, req.member_id)
    if member is None:  # nothing to record it against: members are never deleted, so this id never existed
        return Outcome(status=MessageStatus.SUPPRESSED, message_id=None, reason=Suppression.MEMBER_MISSING)
    blocked = suppression_for(member, req.channel, req.category)
    if blocked is not None:
        return outcome_of(await _record(session, req, now=now, status=MessageStatus.SUPPRESSED, reason=blocked))
    if req.category == Category.MARKETING:
        opens = quiet_hours_end(now, member.timezone, start=settings.quiet_hours_start, end=settings.quiet_hours_end)
        if opens is not None:
            return Outcome(status="deferred", message_id=existing.id if existing else None, retry_at=opens)
        await _lock_member_messages(session, member.id)
        sent = await _marketing_count(session, member.id, since=now - FREQUENCY_WINDOW, exclude_key=req.message_key)
        if sent >= settings.frequency_cap:
            suppressed = await _record(
                session, req, now=now, status=MessageStatus.SUPPRESSED, reason=Suppression.FREQUENCY_CAP
            )
            return outcome_of(suppressed)
    try:
        rendered, link, extra = await _render_for(
            session, req, member, now=now, settings=settings, portal=portal or PortalSettings(), secret_key=secret_key
        )
    except _Undeliverable as exc:
        return outcome_of(await _record(session, req, now=now, status=MessageStatus.FAILED, reason=str(exc)))
    logged = _masked(rendered, extra.get("sign_in_code"))
    message = await _record(session, req, now=now, status=MessageStatus.QUEUED, rendered=logged)
    if message.status != MessageStatus.QUEUED:
        return await settle(session, message)
    address = member.email if req.channel == Channel.EMAIL else member.phone
    assert address is not None
    return Outgoing(
        message_id=message.id,
        message_key=req.message_key,
        channel=req.channel,
        category=req.category,
        to=address,
        rendered=rendered,
        unsubscribe_url=link,
        claimed_by=existing.claimed_by if existing is not None else None,
    )


# Reading


async def list_messages(
    session: AsyncSession,
    *,
    member_id: uuid.UUID | None = None,
    status: MessageStatus | None = None,
    channel: Channel | None = None,
    unknown_outcome: bool = False,
    limit: int = 50,
    after: uuid.UUID | None = None,
) -> list[Message]:
    """Newest first; `after` is the last id of the previous page (ids are time-ordered). `unknown_outcome`:
    only the messages a crash left failed with the outcome unknown, the ones ops may resend."""
    stmt = select(Message)
    if member_id is not None:
        stmt = stmt.where(Message.member_id == member_id)
    if status is not None:
        stmt = stmt.where(Message.status == status)
    if unknown_outcome:
        stmt = stmt.where(Message.status == MessageStatus.FAILED, Message.reason == UNKNOWN_OUTCOME)
    if channel is not None:
        stmt = stmt.where(Message.channel == channel)
    if after is not None:
        stmt = stmt.where(Message.id < after)
    return list((await session.execute(stmt.order_by(Message.id.desc()).limit(limit))).scalars().all())


async def recent_messages(session: AsyncSession, member_id: uuid.UUID, *, limit: int = 10) -> list[Message]:
    return await list_messages(session, member_id=member_id, limit=limit)
