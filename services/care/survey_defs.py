"""Survey definitions: what a marketer writes (an NPS or CSAT survey, or custom questions built from the custom
field types), its validation, and the definitions' reads and writes. A survey's key and kind never change once
it exists, so every send and answer keeps meaning what it meant; a survey that was sent can be deactivated,
not deleted."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints, model_validator
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import Conflict, InvalidInput, NotFound
from models import Survey, SurveySend
from services.definitions import Name
from services.members.fields import MAX_OPTIONS, SELECT_TYPES, FieldType, Option
from services.platform import audit
from services.platform.audit import Actor

MAX_QUESTIONS = 30
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Prompt = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class SurveyKind(StrEnum):
    NPS = "nps"  # 0-10, "how likely are you to recommend us", plus a comment
    CSAT = "csat"  # 1-5, "how satisfied were you", plus a comment
    CUSTOM = "custom"  # questions of the custom field types


# The score range of each scored kind.
SCALES: dict[str, tuple[int, int]] = {SurveyKind.NPS: (0, 10), SurveyKind.CSAT: (1, 5)}


class Texts(BaseModel):
    """A text in English and Simplified Chinese, as every member-facing text of memberflow is."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    en: Title
    zh_cn: Title = Field(alias="zh-CN")


class PromptTexts(Texts):
    en: Prompt
    zh_cn: Prompt = Field(alias="zh-CN")


class Question(BaseModel):
    """One custom question: a key (how answers name it), one of the custom field types, its label in both
    languages, whether it must be answered, and the options of a select."""

    model_config = ConfigDict(extra="forbid")

    key: Name
    type: FieldType
    label: PromptTexts
    required: StrictBool = False
    options: list[Option] = Field(default_factory=list, max_length=MAX_OPTIONS)

    @model_validator(mode="after")
    def _options_fit(self) -> Question:
        if len(set(self.options)) != len(self.options):
            raise ValueError(f"question {self.key!r}: options must be distinct")
        if self.type in SELECT_TYPES and not self.options:
            raise ValueError(f"question {self.key!r}: a {self.type} question needs at least one option")
        if self.type not in SELECT_TYPES and self.options:
            raise ValueError(f"question {self.key!r}: only single_select and multi_select questions take options")
        return self


def _check_questions(kind: SurveyKind, questions: list[Question]) -> None:
    if kind == SurveyKind.CUSTOM and not questions:
        raise ValueError("a custom survey needs at least one question")
    if kind != SurveyKind.CUSTOM and questions:
        raise ValueError(f"an {kind} survey asks its score and a comment; questions belong to custom surveys")
    keys = [question.key for question in questions]
    if len(set(keys)) != len(keys):
        raise ValueError("question keys must be distinct")


def _no_nul(value: Any) -> Any:
    """PostgreSQL text and JSON hold no NUL character: refuse one anywhere in a definition (a console form can
    carry one where the API's JSON bodies are refused before they get here)."""
    if isinstance(value, str) and "\x00" in value:
        raise ValueError("text may not contain NUL characters")
    if isinstance(value, dict):
        for item in value.values():
            _no_nul(item)
    if isinstance(value, list):
        for item in value:
            _no_nul(item)
    return value


class _Definition(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _text_fits(cls, data: Any) -> Any:
        return _no_nul(data)


class SurveyCreate(_Definition):
    key: Name = Field(description="How journeys, tickets and the API name the survey: lower case, digits, _")
    kind: SurveyKind
    title: Texts
    prompt: PromptTexts = Field(description="The score question (NPS, CSAT) or the introduction (custom)")
    comment_required: StrictBool = Field(default=False, description="NPS and CSAT: the comment must be given")
    questions: list[Question] = Field(default_factory=list, max_length=MAX_QUESTIONS)
    active: StrictBool = True

    @model_validator(mode="after")
    def _fits_kind(self) -> SurveyCreate:
        _check_questions(self.kind, self.questions)
        if self.kind == SurveyKind.CUSTOM and self.comment_required:
            raise ValueError("comment_required belongs to NPS and CSAT surveys; ask a text question instead")
        return self


class SurveyUpdate(_Definition):
    """Only what is present changes; `questions` replaces the whole list. The key and the kind never change."""

    title: Texts | None = None
    prompt: PromptTexts | None = None
    comment_required: StrictBool | None = None
    questions: list[Question] | None = Field(default=None, max_length=MAX_QUESTIONS)
    active: StrictBool | None = None


def questions_of(survey: Survey) -> list[Question]:
    return [Question.model_validate(raw) for raw in survey.questions]


def settings(survey: Survey) -> dict[str, Any]:
    """The definition as the API shows it and the audit log records it."""
    return {
        "kind": survey.kind,
        "title": {"en": survey.title_en, "zh-CN": survey.title_zh_cn},
        "prompt": {"en": survey.prompt_en, "zh-CN": survey.prompt_zh_cn},
        "comment_required": survey.comment_required,
        "questions": list(survey.questions),
        "active": survey.active,
    }


async def list_surveys(session: AsyncSession) -> list[Survey]:
    return list((await session.execute(select(Survey).order_by(Survey.created_at, Survey.key))).scalars().all())


async def get(session: AsyncSession, key: str, *, for_update: bool = False) -> Survey:
    stmt = select(Survey).where(Survey.key == key)
    if for_update:
        stmt = stmt.with_for_update()
    survey = (await session.execute(stmt)).scalar_one_or_none()
    if survey is None:
        raise NotFound(f"survey {key!r} does not exist", code="survey_not_found")
    return survey


async def _audit(session: AsyncSession, actor: Actor, action: str, survey: Survey, details: dict[str, Any]) -> None:
    await audit.record(
        session,
        actor,
        action=f"survey.{action}",
        target_type="survey",
        target_id=str(survey.id),
        details={"key": survey.key, **details},
    )


def _stored(questions: list[Question]) -> list[dict[str, Any]]:
    return [question.model_dump(mode="json", by_alias=True) for question in questions]


async def create(session: AsyncSession, data: SurveyCreate, *, actor: Actor) -> Survey:
    survey = Survey(
        key=data.key,
        kind=data.kind.value,
        title_en=data.title.en,
        title_zh_cn=data.title.zh_cn,
        prompt_en=data.prompt.en,
        prompt_zh_cn=data.prompt.zh_cn,
        questions=_stored(data.questions),
        comment_required=data.comment_required,
        active=data.active,
        created_by=actor.name,
    )
    try:
        async with session.begin_nested():
            session.add(survey)
            await session.flush()
    except IntegrityError as exc:
        raise Conflict(
            f"a survey with key {data.key!r} already exists", code="survey_exists", details={"key": data.key}
        ) from exc
    await _audit(session, actor, "create", survey, settings(survey))
    await session.refresh(survey)
    return survey


async def update(session: AsyncSession, key: str, data: SurveyUpdate, *, actor: Actor) -> Survey:
    """Change a survey. Questions are checked against its kind, as on create (a 422 naming `body.questions`)."""
    survey = await get(session, key, for_update=True)
    before = settings(survey)
    if data.questions is not None:
        try:
            _check_questions(SurveyKind(survey.kind), data.questions)
        except ValueError as exc:
            raise _invalid("body.questions", str(exc)) from exc
        survey.questions = _stored(data.questions)
    if data.comment_required is not None:
        if data.comment_required and survey.kind == SurveyKind.CUSTOM:
            raise _invalid("body.comment_required", "comment_required belongs to NPS and CSAT surveys")
        survey.comment_required = data.comment_required
    if data.title is not None:
        survey.title_en, survey.title_zh_cn = data.title.en, data.title.zh_cn
    if data.prompt is not None:
        survey.prompt_en, survey.prompt_zh_cn = data.prompt.en, data.prompt.zh_cn
    if data.active is not None:
        survey.active = data.active
    survey.updated_at = func.now()
    await session.flush()
    await session.refresh(survey)
    after = settings(survey)
    await _audit(session, actor, "update", survey, {"changed": {k: v for k, v in after.items() if v != before[k]}})
    return survey


def _invalid(field: str, message: str) -> InvalidInput:
    return InvalidInput(message, details=[{"field": field, "message": message, "type": "value_error"}])


async def sends_of(session: AsyncSession, survey: Survey) -> int:
    stmt = select(func.count()).select_from(SurveySend).where(SurveySend.survey_id == survey.id)
    return int((await session.execute(stmt)).scalar_one())


async def remove(session: AsyncSession, key: str, *, actor: Actor) -> None:
    """Delete a survey never sent; one that was sent is a 409 (deactivate it instead: its answers stay)."""
    survey = await get(session, key, for_update=True)
    sent = await sends_of(session, survey)
    if sent:
        raise Conflict(
            f"survey {key!r} was sent {sent} time(s); deactivate it instead (its answers are kept)",
            code="survey_in_use",
            details={"key": key, "sends": sent},
        )
    await _audit(session, actor, "delete", survey, {})
    await session.execute(delete(Survey).where(Survey.id == survey.id))
