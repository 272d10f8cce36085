"""Survey sends and answers: a survey sent to a member (from a journey step, a campaign's journey or a closed
ticket), the answer page's view of one send, and its answer, accepted once.

A send is a row, unique per (survey, member, source, source id), and a SurveyInviteWorkflow started through the
outbox in the same transaction, which sends the transactional invitation with the signed link (the link is
derived from the send's id by the send activity, so it never enters a workflow's history). Answering stores the
answer, marks the send answered, records a `survey_answered` member event and hands it to the journeys and the
rules, all in one transaction, so a refused answer changes nothing and an accepted one fires once."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import Conflict, NotFound
from core.ids import uuid7
from core.settings import get_settings
from models import Member, MemberEvent, Survey, SurveyAnswer, SurveySend
from services import journeys, members, rules
from services.care.answers import Answer, validate_answer
from services.care.survey_defs import Question, get, questions_of
from services.platform import outbox
from workflows import contracts

SURVEY_ANSWERED = "survey_answered"
Source = Literal["journey", "campaign", "ticket", "api"]
Channel = Literal["email", "sms"]


class AlreadyAnswered(Conflict):
    code = "survey_already_answered"


class SurveyInactive(Conflict):
    code = "survey_inactive"


async def send_survey(
    session: AsyncSession,
    survey_key: str,
    member_id: uuid.UUID,
    *,
    source: Source = "ticket",
    source_id: str,
    channel: Channel = "email",
    task_queue: str | None = None,
    now: datetime | None = None,
) -> SurveySend:
    """Send a survey to a member once per (survey, member, source, source id): a second call with the same
    origin returns the first send and sends nothing. The invitation goes out after the caller commits (the
    outbox delivers its workflow start). NotFound for an unknown survey or member, 409 for an inactive survey
    or an erased member. A ticket hands its closing here: `source="ticket", source_id=str(ticket_id)`."""
    survey = await get(session, survey_key)
    if not survey.active:
        raise SurveyInactive(f"survey {survey_key!r} is inactive: activate it to send it", details={"key": survey_key})
    member = await members.get_active(session, member_id)
    send_id = uuid7()
    inserted = (
        await session.execute(
            insert(SurveySend)
            .values(
                id=send_id,
                survey_id=survey.id,
                member_id=member.id,
                source=source,
                source_id=source_id,
                channel=channel,
                sent_at=now or datetime.now(UTC),
            )
            .on_conflict_do_nothing(index_elements=["survey_id", "member_id", "source", "source_id"])
            .returning(SurveySend.id)
        )
    ).scalar_one_or_none()
    if inserted is not None:
        invite = contracts.SurveyInviteInput(send_id=str(send_id), member_id=str(member.id), channel=channel)
        queue = task_queue or get_settings().temporal.task_queue
        await outbox.enqueue_start(session, contracts.survey_invite_start(invite, task_queue=queue))
    stmt = select(SurveySend).where(
        SurveySend.survey_id == survey.id,
        SurveySend.member_id == member.id,
        SurveySend.source == source,
        SurveySend.source_id == source_id,
    )
    return (await session.execute(stmt.execution_options(populate_existing=True))).scalar_one()


@dataclass(frozen=True)
class SendView:
    """What the answer page shows of one send: the survey, and whether (when) it was answered."""

    send: SurveySend
    survey: Survey
    questions: list[Question]
    member_locale: str | None

    @property
    def answered(self) -> bool:
        return self.send.answered_at is not None


async def open_send(session: AsyncSession, send_id: uuid.UUID, *, for_update: bool = False) -> SendView:
    """One send with its survey. An unknown send, or one whose member was erased, is NotFound (the page says
    the link does not work, as for a tampered one)."""
    stmt = select(SurveySend).where(SurveySend.id == send_id)
    if for_update:
        stmt = stmt.with_for_update()
    send = (await session.execute(stmt.execution_options(populate_existing=True))).scalar_one_or_none()
    if send is None:
        raise NotFound("this survey does not exist", code="survey_send_not_found")
    member = await members.get(session, send.member_id)
    if member.erased_at is not None:
        raise NotFound("this survey does not exist", code="survey_send_not_found")
    survey = (await session.execute(select(Survey).where(Survey.id == send.survey_id))).scalar_one()
    return SendView(send=send, survey=survey, questions=questions_of(survey), member_locale=member.locale)


async def answer(
    session: AsyncSession,
    send_id: uuid.UUID,
    raw: dict[str, Any],
    *,
    task_queue: str,
    now: datetime | None = None,
) -> SurveyAnswer:
    """Accept the answer to one send, once. `raw` maps `score`, `comment` and each question's key to what the
    form sent (a string, or a list of strings for a multi select). A second answer is AlreadyAnswered (409),
    an invalid one InvalidInput (422) with a detail per field; both change nothing."""
    at = now or datetime.now(UTC)
    view = await open_send(session, send_id, for_update=True)
    if view.answered:
        raise AlreadyAnswered("this survey was already answered: thank you", details={"send_id": str(send_id)})
    checked = validate_answer(view.survey, view.questions, raw)
    member = await members.get_active(session, view.send.member_id, for_update=True)
    row = SurveyAnswer(
        send_id=view.send.id,
        survey_id=view.survey.id,
        member_id=member.id,
        score=checked.score,
        comment=checked.comment,
        answers=checked.answers,
        answered_at=at,
    )
    session.add(row)
    view.send.answered_at = at
    await session.flush()
    await _fire(session, view, checked, member, at=at, task_queue=task_queue)
    return row


async def _fire(
    session: AsyncSession, view: SendView, checked: Answer, member: Member, *, at: datetime, task_queue: str
) -> None:
    """The `survey_answered` event: recorded, then seen by journeys (triggers and waits) and by rules. It carries
    the survey's key and kind and the score, never the comment or the answers."""
    facts = {"event.score": checked.score, "event.survey": view.survey.key, "event.kind": view.survey.kind}
    properties: dict[str, Any] = {"send_id": str(view.send.id), "survey": view.survey.key, "kind": view.survey.kind}
    if checked.score is not None:
        properties["score"] = checked.score
    event_id = uuid7()
    session.add(
        MemberEvent(
            id=event_id,
            member_id=member.id,
            type=SURVEY_ANSWERED,
            occurred_at=at,
            properties=properties,
            idempotency_key=f"survey_answer:{view.send.id}",
        )
    )
    await session.flush()
    await journeys.on_event(
        session,
        member,
        SURVEY_ANSWERED,
        task_queue=task_queue,
        properties={"send_id": str(view.send.id)},
        event_facts=facts,
    )
    await rules.evaluate_event(
        session,
        rules.RuleEvent(
            trigger=SURVEY_ANSWERED,
            member=member,
            key=f"event:{event_id}",
            occurred_at=at,
            facts=facts,
            properties=properties,
            member_locked=True,
        ),
        task_queue=task_queue,
    )
