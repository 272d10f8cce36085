"""Checking one answer to a survey: the score on the kind's scale, the comment, and each custom question by its
field type (the custom member fields' rules and canonical forms: services.members.fields). Every problem is
reported at once, each naming its field (`score`, `comment`, `answers.<key>`) and a `type` the answer page turns
into words in the member's language."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.errors import InvalidInput
from models import MemberField, Survey
from services.care.survey_defs import SCALES, Question
from services.members.fields import FieldType, canonical

MAX_COMMENT = 2000
_TRUE = frozenset({"true", "yes", "1", "on"})
_FALSE = frozenset({"false", "no", "0", "off"})
# What a value of each type must be, when the field type's own check refuses it.
_TYPE_PROBLEM = {
    FieldType.TEXT: "text",
    FieldType.NUMBER: "number",
    FieldType.DATE: "date",
    FieldType.BOOLEAN: "boolean",
    FieldType.SINGLE_SELECT: "option",
    FieldType.MULTI_SELECT: "option",
}


@dataclass
class Answer:
    score: int | None = None
    comment: str | None = None
    answers: dict[str, Any] = field(default_factory=dict)


def _blank(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, list):
        return not [item for item in value if isinstance(item, str) and item.strip()]
    return isinstance(value, str) and not value.strip()


def _problem(field_name: str, kind: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"field": field_name, "type": kind, "message": message, **extra}


def _score(survey: Survey, value: Any, problems: list[dict[str, Any]]) -> int | None:
    low, high = SCALES[survey.kind]
    if _blank(value):
        problems.append(_problem("score", "required", "choose a score", min=low, max=high))
        return None
    text = value.strip() if isinstance(value, str) else str(value)
    if not text.isdigit() or not low <= int(text) <= high:
        problems.append(
            _problem("score", "score_range", f"the score is a whole number from {low} to {high}", min=low, max=high)
        )
        return None
    return int(text)


def _comment(survey: Survey, value: Any, problems: list[dict[str, Any]]) -> str | None:
    if _blank(value):
        if survey.comment_required:
            problems.append(_problem("comment", "required", "please tell us why"))
        return None
    if not isinstance(value, str):
        problems.append(_problem("comment", "text", "the comment is text"))
        return None
    text = value.strip()
    if "\x00" in text:
        problems.append(_problem("comment", "text", "the comment may not contain NUL characters"))
        return None
    if len(text) > MAX_COMMENT:
        problems.append(_problem("comment", "too_long", f"at most {MAX_COMMENT} characters", max=MAX_COMMENT))
        return None
    return text


def _typed(question: Question, value: Any) -> Any:
    """The form's string (or list of strings) as the question's type expects it before its canonical check."""
    match question.type:
        case FieldType.BOOLEAN:
            lowered = value.strip().lower() if isinstance(value, str) else value
            return True if lowered in _TRUE else False if lowered in _FALSE else value
        case FieldType.MULTI_SELECT:
            return [value] if isinstance(value, str) else value
        case FieldType.NUMBER | FieldType.DATE | FieldType.SINGLE_SELECT:
            return value.strip() if isinstance(value, str) else value
    return value


def _question(question: Question, value: Any, problems: list[dict[str, Any]]) -> Any:
    at = f"answers.{question.key}"
    if _blank(value):
        if question.required:
            problems.append(_problem(at, "required", "this question needs an answer"))
        return None
    shape = MemberField(key=question.key, type=question.type.value, options=list(question.options))
    try:
        return canonical(shape, _typed(question, value))
    except ValueError as exc:
        kind = _TYPE_PROBLEM[question.type]
        problems.append(_problem(at, kind, str(exc), options=list(question.options)))
        return None


def validate_answer(survey: Survey, questions: list[Question], raw: dict[str, Any]) -> Answer:
    """The answer in its stored form; InvalidInput naming every field at fault otherwise."""
    problems: list[dict[str, Any]] = []
    answer = Answer()
    if survey.kind in SCALES:
        answer.score = _score(survey, raw.get("score"), problems)
        answer.comment = _comment(survey, raw.get("comment"), problems)
    for question in questions:
        value = _question(question, raw.get(question.key), problems)
        if value is not None:
            answer.answers[question.key] = value
    if problems:
        named = ", ".join(problem["field"] for problem in problems[:5])
        raise InvalidInput(f"the answer is not complete: {named}", code="invalid_answer", details=problems)
    return answer
