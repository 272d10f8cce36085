"""The `messaging.send` activity: one message to one member, sent once whatever Temporal retries, and never
twice even when a worker is killed at the worst moment.

Exactly-once toward the provider, as far as a provider allows:

1. The message is keyed by `message_key`, deterministic and attempt-independent (the journey passes
   "{workflow id}:{run id}:{step id}"); `messages.message_key` is unique.
2. A row already final (sent, delivered, suppressed, failed) is returned as it is: nothing is sent.
3. Otherwise the checks run at send time: member, consent, address, quiet hours (marketing: the result is
   `deferred` with `retry_at`, the next opening in the member's time zone, and nothing is written), the
   frequency cap (marketing), rendering. A suppression or a message that cannot be built (no template, a
   coupon that is not the member's) is recorded as `suppressed`/`failed` with the reason, and never retried.
4. The row is inserted as `queued`, and this attempt claims it (`claimed_by` = "{run id}/{activity id}#{attempt}")
   and commits, before connecting to the provider. A claim left by an earlier attempt is taken over: that
   attempt died (or timed out) before its hand-over, so it sent nothing.
5. The provider connects and gets as far as it can without handing the message over (SMTP: EHLO, AUTH, MAIL,
   RCPT, DATA and its 354, the whole body); then, right before the line with the lone `.` that ends DATA (the
   HTTP SMS provider: before the POST), the row moves to `sending` and is committed, on the condition that
   this attempt still holds the claim. An attempt that lost its claim (a zombie a retry has overtaken) hands
   nothing over: it drops the connection without that line, and the server discards the unterminated body.
6. The provider takes the message: the row becomes `sent` (or `delivered`) and is committed.
   Refused or unreachable (nothing went out): the row goes back to `queued`, unclaimed, with the error, and the
   activity raises a retryable `ProviderUnavailable` so Temporal retries; on the retry policy's last attempt,
   or for a permanent refusal, it is recorded `failed` instead.
7. A retry that finds the row `sending` knows an attempt died between the hand-over and step 6, with the
   outcome unknown (the server may have the message but its reply was not read; RFC 1047): it marks the row
   `failed` ("outcome unknown after a crash; not resent to avoid a duplicate") and does not send. At most once
   beats a duplicate; ops list these messages and may resend one on purpose with the same Message-ID
   (`POST /api/v1/messages/{id}/resend`). If that earlier attempt was only slow and does get an acceptance, its
   `sent` still overwrites the `failed`.

So a crash before step 5's commit loses nothing (the retry sends), and only a crash between the terminating
line and the commit of `sent` (one line, the server's reply, QUIT) leaves the outcome unknown. The claim and
the row's moves live in services.messaging.delivery. `messaging.fail_after_send` (tests only) raises right
after step 6 commits, to prove a retry does not resend.
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
from services.messaging import Category, ClaimLost, Outcome, Outgoing
from services.messaging.providers import ProviderError, Providers
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


def _claim_token() -> str:
    """Names this attempt: the run, the activity and the attempt number, unique per attempt of a message."""
    info = activity.info()
    return f"{info.workflow_run_id}/{info.activity_id}#{info.attempt}"[:255]


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
        token = _claim_token()
        async with self._sessions() as session:
            taken = await messaging.claim(session, prepared.message_id, token)
            await session.commit()
        if taken is not None:
            return _result(taken)
        if prepared.claimed_by is not None:
            log.warning(
                "message %s: claim taken over from %s by %s (that attempt died before the hand-over)",
                prepared.message_id,
                prepared.claimed_by,
                token,
            )
        try:
            receipt = await messaging.deliver(
                self._providers, prepared, lambda: self._start_sending(prepared.message_id, token)
            )
        except ProviderError as exc:
            return await self._not_sent(prepared, token, exc)
        except ClaimLost as exc:
            # Only a zombie gets here (a retry has taken its claim): Temporal no longer waits for its answer.
            raise ApplicationError(str(exc), type="ClaimLost") from exc
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

    async def _start_sending(self, message_id: uuid.UUID, token: str) -> None:
        """The hand-over point (step 5): committed before the provider gets the message."""
        async with self._sessions() as session:
            await messaging.start_sending(session, message_id, token)
            await session.commit()

    async def _not_sent(self, message: Outgoing, token: str, exc: ProviderError) -> SendMessageResult:
        """Nothing went out: retry through Temporal, unless retrying cannot help or this was the last try."""
        error = str(exc)[:1000]
        final = exc.permanent or _last_attempt()
        async with self._sessions() as session:
            if final:
                outcome = await messaging.mark_failed(session, message.message_id, token, error=error)
            else:
                await messaging.release(session, message.message_id, token, error=error)
            await session.commit()
        if final:
            log.warning("message %s failed: %s", message.message_id, error)
            return _result(outcome)
        raise ApplicationError(
            f"{message.channel} provider did not take the message: {error}", type="ProviderUnavailable"
        )
