"""The send steps after `prepare`: claim the row, hand the message to the provider, record the answer; and a
resend, on purpose, of a message whose outcome a crash left unknown.

Why a claim and then `sending`, not `sending` at once: a provider only has a message once it is handed over
(the end of SMTP DATA, an HTTP POST), so an attempt that dies before that has sent nothing and a retry may
send. The attempt therefore claims the `queued` row (`claimed_by`, committed before it connects) and moves it
to `sending` only at the hand-over point, on the condition that it still holds the claim. A retry takes over a
claim left by a dead attempt; should that attempt be alive after all (a zombie past its timeout), its move to
`sending` finds the claim gone and it hands nothing over. Only a row left `sending` has an unknown outcome.
The caller commits each step (the activity, or the resend request)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import Conflict, NotFound
from core.settings import MessagingSettings
from models import Member, Message
from services.messaging import templates
from services.messaging.consent import unsubscribe_url
from services.messaging.providers import HandOver, OutgoingEmail, OutgoingSms, Providers, Receipt
from services.messaging.service import (
    MASKED_CODE,
    UNKNOWN_OUTCOME,
    Category,
    MessageStatus,
    Outcome,
    Outgoing,
    get_message,
    outcome_of,
    settle,
    suppression_for,
    transition,
)
from services.messaging.templates import Channel, Rendered
from services.platform import audit
from services.platform.audit import Actor

RESEND_CLAIM = "resend:"


class ClaimLost(Exception):
    """Another attempt took the message over: this one must not hand it to the provider."""


def _held(message_id: uuid.UUID, token: str) -> ColumnElement[bool]:
    return and_(Message.id == message_id, Message.claimed_by == token)


async def claim(session: AsyncSession, message_id: uuid.UUID, token: str) -> Outcome | None:
    """Hold the `queued` row for the attempt `token`, taking it over from an attempt that died before its
    hand-over. None when held; otherwise the row has moved on, and this is where it stands (a `sending` row is
    settled as failed with the outcome unknown)."""
    held = await session.execute(
        update(Message)
        .where(Message.id == message_id, Message.status == MessageStatus.QUEUED)
        .values(claimed_by=token, updated_at=func.now())
        .returning(Message.id)
        .execution_options(synchronize_session=False)
    )
    if held.one_or_none() is not None:
        return None
    return await settle(session, await get_message(session, message_id))


async def start_sending(session: AsyncSession, message_id: uuid.UUID, token: str) -> None:
    """The hand-over point: `queued` → `sending` while `token` still holds the claim; ClaimLost if it does not.
    From the caller's commit on, a crash leaves the outcome unknown."""
    guard = and_(_held(message_id, token), Message.status == MessageStatus.QUEUED)
    if await transition(session, message_id, guard, MessageStatus.SENDING, None) is None:
        raise ClaimLost(f"message {message_id}: another attempt holds it now; not handed over")


async def mark_sent(
    session: AsyncSession,
    message_id: uuid.UUID,
    *,
    provider: str,
    provider_message_id: str | None,
    delivered: bool,
    now: datetime,
) -> Outcome:
    """Record the provider's acceptance. It also corrects a row a later attempt marked failed with an unknown
    outcome while this one was still waiting for the provider: what happened beats what was feared."""
    status = MessageStatus.DELIVERED if delivered else MessageStatus.SENT
    guard = or_(
        Message.status == MessageStatus.SENDING,
        and_(Message.status == MessageStatus.FAILED, Message.reason == UNKNOWN_OUTCOME),
    )
    values = {"sent_at": now, "provider": provider, "provider_message_id": provider_message_id}
    moved = await transition(session, message_id, guard, status, None, **values)
    return moved or outcome_of(await get_message(session, message_id))


async def release(session: AsyncSession, message_id: uuid.UUID, token: str, *, error: str) -> None:
    """The provider refused or could not be reached, so nothing went out: back to `queued`, unclaimed, for a
    retry. Nothing changes if another attempt holds the row now."""
    guard = and_(_held(message_id, token), Message.status.in_((MessageStatus.QUEUED, MessageStatus.SENDING)))
    await transition(session, message_id, guard, MessageStatus.QUEUED, error, claimed_by=None)


async def mark_failed(session: AsyncSession, message_id: uuid.UUID, token: str, *, error: str) -> Outcome:
    guard = and_(_held(message_id, token), Message.status.in_((MessageStatus.QUEUED, MessageStatus.SENDING)))
    moved = await transition(session, message_id, guard, MessageStatus.FAILED, error)
    return moved or outcome_of(await get_message(session, message_id))


async def deliver(providers: Providers, message: Outgoing, before_hand_over: HandOver) -> Receipt:
    """Hand one prepared message to its channel's provider (see services.messaging.providers for what a
    Receipt, a ProviderError and anything else raised mean)."""
    rendered = message.rendered
    if message.channel == Channel.SMS:
        sms = OutgoingSms(
            message_id=str(message.message_id), message_key=message.message_key, to=message.to, text=rendered.body
        )
        return await providers.sms.send_sms(sms, before_hand_over)
    # An email rendering always has a subject, the whole document and its plain-text part.
    assert rendered.subject is not None
    assert rendered.html is not None
    assert rendered.text is not None
    email = OutgoingEmail(
        message_id=str(message.message_id),
        message_key=message.message_key,
        to=message.to,
        subject=rendered.subject,
        html=rendered.html,
        text=rendered.text,
        unsubscribe_url=message.unsubscribe_url,
    )
    return await providers.email.send_email(email, before_hand_over)


# A resend on purpose


def _resendable(message: Message) -> bool:
    """Failed with the outcome unknown, or claimed by a resend that did not get as far as the hand-over."""
    if message.status == MessageStatus.FAILED:
        return message.reason == UNKNOWN_OUTCOME
    return message.status == MessageStatus.QUEUED and (message.claimed_by or "").startswith(RESEND_CLAIM)


def _rebuilt(message: Message, member: Member, settings: MessagingSettings, secret_key: str | None) -> Outgoing:
    """The message as the first attempt sent it, from what the message log kept (the rendered text), so a
    receiving system sees the same content under the same Message-ID."""
    email = message.channel == Channel.EMAIL
    marketing = message.category == Category.MARKETING
    link = None
    if email and marketing:
        if not secret_key:
            raise Conflict("secret_key is not set: marketing email needs a signed unsubscribe link")
        link = unsubscribe_url(settings.public_url, secret_key, member.id, Channel.EMAIL)
    if message.body is None or message.locale is None or (email and message.subject is None):
        raise Conflict("the message log no longer holds this message's text", code="message_not_resendable")
    if MASKED_CODE in message.body or MASKED_CODE in (message.subject or ""):
        # The log keeps a portal sign-in code blanked, so a resend would carry no code: the member asks again.
        raise Conflict(
            "a sign-in code is not kept in the message log; the member can ask for a new one",
            code="message_not_resendable",
        )
    rendered = (
        templates.email_document(
            message.locale,
            message.subject or "",
            message.body,
            marketing=marketing,
            unsubscribe_url=link,
            brand=settings.brand_name,
        )
        if email
        else Rendered(locale=message.locale, subject=None, body=message.body)
    )
    address = member.email if email else member.phone
    assert address is not None  # suppression_for checked it
    return Outgoing(
        message_id=message.id,
        message_key=message.message_key,
        channel=Channel(message.channel),
        category=Category(message.category),
        to=address,
        rendered=rendered,
        unsubscribe_url=link,
        claimed_by=message.claimed_by,
    )


async def begin_resend(
    session: AsyncSession,
    message_id: uuid.UUID,
    *,
    token: str,
    actor: Actor,
    settings: MessagingSettings,
    secret_key: str | None,
) -> Outgoing:
    """Claim a message whose outcome a crash left unknown for a resend by a person (audited), and rebuild it.
    Only such a message: anything else is a Conflict and changes nothing. The member's consent and address are
    checked again, as for any send."""
    stmt = select(Message).where(Message.id == message_id).with_for_update().execution_options(populate_existing=True)
    message = (await session.execute(stmt)).scalar_one_or_none()
    if message is None:
        raise NotFound(f"message {message_id} not found", code="message_not_found")
    if not _resendable(message):
        raise Conflict(
            f"only a message whose outcome a crash left unknown can be resent; this one is {message.status}",
            code="message_not_resendable",
            details={"status": message.status, "reason": message.reason},
        )
    member = await session.get(Member, message.member_id, populate_existing=True)
    assert member is not None  # messages reference their member; members are never deleted
    blocked = suppression_for(member, Channel(message.channel), Category(message.category))
    if blocked is not None:
        raise Conflict(f"the message would be suppressed now: {blocked}", code="message_suppressed")
    outgoing = _rebuilt(message, member, settings, secret_key)
    previous = {"status": message.status, "reason": message.reason}
    await transition(
        session, message.id, Message.id == message.id, MessageStatus.QUEUED, f"resend by {actor.name}", claimed_by=token
    )
    await audit.record(
        session, actor, action="message.resend", target_type="message", target_id=str(message.id), details=previous
    )
    return outgoing


async def abandon_resend(session: AsyncSession, message_id: uuid.UUID, token: str) -> None:
    """The provider did not take the resend (nothing went out): the message is back where it was, failed with
    the first send's outcome unknown, so it can be resent again."""
    guard = and_(_held(message_id, token), Message.status.in_((MessageStatus.QUEUED, MessageStatus.SENDING)))
    await transition(session, message_id, guard, MessageStatus.FAILED, UNKNOWN_OUTCOME)
