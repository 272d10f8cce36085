"""The `messaging.send` activity: one message to one member, sent at most once, whatever Temporal retries.

Exactly-once toward the provider, as far as a provider allows:

1. The message is keyed by `message_key`, deterministic and attempt-independent (the journey passes
   "{workflow id}:{run id}:{step id}"); `messages.message_key` is unique.
2. A row already final (sent, delivered, suppressed, failed) is returned as it is: nothing is sent.
3. Otherwise the checks run at send time: member, consent, address, quiet hours (marketing: the result is
   `deferred` with `retry_at`, the next opening in the member's time zone, and nothing is written), the
   frequency cap (marketing), rendering. A suppression or a message that cannot be built (no template, a
   coupon that is not the member's) is recorded as `suppressed`/`failed` with the reason, and never retried.
4. The row is inserted as `queued` and committed; then moved to `sending` and committed, before the provider
   is called. Only one attempt can move it from `queued` to `sending`.
5. The provider is called. Accepted: the row becomes `sent` (or `delivered`) and is committed.
   Refused or unreachable (nothing went out): the row goes back to `queued` with the error, and the activity
   raises a retryable `ProviderUnavailable` so Temporal retries; on the retry policy's last attempt, or for a
   permanent refusal, it is recorded `failed` instead.
6. A retry that finds the row `sending` knows an attempt died between the provider call and step 5, with the
   outcome unknown: it marks the row `failed` ("outcome unknown after a crash; not resent to avoid a
   duplicate") and does not send. At most once beats a duplicate. (If that earlier attempt was only slow and
   does get an acceptance, its `sent` still overwrites the `failed`.)

`messaging.fail_after_send` (tests only) raises right after step 5 commits, to prove a retry does not resend.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from core.settings import Settings
from services import messaging
from services.messaging import Category, Outcome, Outgoing
from services.messaging.providers import OutgoingEmail, OutgoingSms, ProviderError, Providers, Receipt
from services.messaging.templates import Channel

log = logging.getLogger("memberflow.messaging")

SEND_ACTIVITY = "messaging.send"


def channel_task_queue(task_queue: str, channel: str) -> str:
    """Each channel's sends run on their own task queue, rate limited by its worker."""
    return f"{task_queue}-{channel}"


class SendMessageInput(BaseModel):
    message_key: str  # deterministic, e.g. f"{workflow_id}:{run_id}:{step_id}"
    member_id: str
    channel: Literal["email", "sms"]
    template: str  # template key, e.g. "welcome"
    category: Literal["marketing", "transactional"] = "marketing"
    journey_kind: str | None = None
    campaign_id: str | None = None
    coupon_code: str | None = None
    context: dict[str, str] = {}  # extra template variables (ids, codes — never personal data)
    # The workflow's clock when it asked (workflow.now()). Quiet hours and the frequency window are judged at
    # this moment, so a run whose clock is not the worker's (time skipping in tests, a skewed worker) gets a
    # retry_at in its own time instead of one that has already passed for it.
    as_of: datetime | None = None
    # A portal sign-in request id (an id, not the code): the activity derives the code it sends from it.
    sign_in_request_id: str | None = None


class SendMessageResult(BaseModel):
    status: Literal["sent", "delivered", "suppressed", "failed", "deferred"]
    message_id: str | None  # our message row id
    reason: str | None = None  # suppression reason / error text
    retry_at: datetime | None = None  # deferred (quiet hours): sleep until then, call again with the same input


def _result(outcome: Outcome) -> SendMessageResult:
    return SendMessageResult.model_validate(
        {
            "status": outcome.status,
            "message_id": str(outcome.message_id) if outcome.message_id else None,
            "reason": outcome.reason,
            "retry_at": outcome.retry_at,
        }
    )


def _uuid(name: str, value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError as exc:
        raise ApplicationError(f"{name} {value!r} is not a UUID", type="InvalidInput", non_retryable=True) from exc


def _request(inp: SendMessageInput) -> messaging.SendRequest:
    member_id = _uuid("member_id", inp.member_id)
    return messaging.SendRequest(
        message_key=inp.message_key,
        member_id=member_id,
        channel=Channel(inp.channel),
        template=inp.template,
        category=Category(inp.category),
        journey_kind=inp.journey_kind,
        campaign_id=inp.campaign_id,
        coupon_code=inp.coupon_code,
        context=dict(inp.context),
        sign_in_request=_uuid("sign_in_request_id", inp.sign_in_request_id) if inp.sign_in_request_id else None,
    )


def _last_attempt() -> bool:
    info = activity.info()
    policy = info.retry_policy
    return policy is not None and policy.maximum_attempts > 0 and info.attempt >= policy.maximum_attempts


class MessagingActivities:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        providers: Providers,
        settings: Settings,
        *,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self._sessions = sessions
        self._providers = providers
        self._settings = settings
        self._now = now or (lambda: datetime.now(UTC))

    @activity.defn(name=SEND_ACTIVITY)
    async def send(self, inp: SendMessageInput) -> SendMessageResult:
        request = _request(inp)
        secret = self._settings.secret_key.get_secret_value() if self._settings.secret_key else None
        async with self._sessions() as session:
            prepared = await messaging.prepare(
                session,
                request,
                now=inp.as_of or self._now(),
                settings=self._settings.messaging,
                secret_key=secret,
                portal=self._settings.portal,
            )
            await session.commit()
        if isinstance(prepared, Outcome):
            return _result(prepared)
        async with self._sessions() as session:
            taken = await messaging.claim(session, prepared.message_id)
            await session.commit()
        if taken is not None:
            return _result(taken)
        try:
            receipt = await self._deliver(prepared)
        except ProviderError as exc:
            return await self._not_sent(prepared, exc)
        async with self._sessions() as session:
            outcome = await messaging.mark_sent(
                session,
                prepared.message_id,
                provider=receipt.provider,
                provider_message_id=receipt.provider_message_id,
                delivered=receipt.delivered,
                now=self._now(),
            )
            await session.commit()
        if self._settings.messaging.fail_after_send:
            raise RuntimeError("messaging.fail_after_send: failing after the sent status was committed")
        return _result(outcome)

    async def _deliver(self, message: Outgoing) -> Receipt:
        rendered = message.rendered
        if message.channel == Channel.SMS:
            sms = OutgoingSms(
                message_id=str(message.message_id), message_key=message.message_key, to=message.to, text=rendered.body
            )
            return await self._providers.sms.send_sms(sms)
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
        return await self._providers.email.send_email(email)

    async def _not_sent(self, message: Outgoing, exc: ProviderError) -> SendMessageResult:
        """Nothing went out: retry through Temporal, unless retrying cannot help or this was the last try."""
        error = str(exc)[:1000]
        final = exc.permanent or _last_attempt()
        async with self._sessions() as session:
            if final:
                outcome = await messaging.mark_failed(session, message.message_id, error=error)
            else:
                await messaging.release(session, message.message_id, error=error)
            await session.commit()
        if final:
            log.warning("message %s failed: %s", message.message_id, error)
            return _result(outcome)
        raise ApplicationError(
            f"{message.channel} provider did not take the message: {error}", type="ProviderUnavailable"
        )
