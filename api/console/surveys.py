"""Surveys (marketers): the list with each survey's sends and answers, a form to define one (NPS, CSAT, or custom
questions of the custom field types, each required or optional, in English and Chinese), and the edit form.
Plain form fields, no JSON: a custom question is one row of the form (up to FORM_QUESTIONS rows; the API takes
more)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.boundary import commit
from api.console.auth import ConsoleUser, checked_form, require
from api.console.render import flash_to, render
from api.deps import SessionDep
from core.errors import AppError, NotFound, problem_message
from models import Survey, SurveySend
from services import care
from services.care import SurveyCreate, SurveyKind, SurveyUpdate
from services.members.fields import FieldType

router = APIRouter()
Problems = list[dict[str, str]]
# The console's forms take at most 50 fields (api/console/render.py): 9 for the survey, 6 per question row.
FORM_QUESTIONS = 6
_QUESTION_INPUTS = ("key", "type", "label_en", "label_zh_cn", "required", "options")


def _question_rows(form: dict[str, str]) -> list[dict[str, Any]]:
    """The filled question rows (a row with neither key nor label is left out), as the service's questions."""
    rows = []
    for index in range(FORM_QUESTIONS):
        value = {name: form.get(f"q{index}_{name}", "").strip() for name in _QUESTION_INPUTS}
        if not (value["key"] or value["label_en"] or value["label_zh_cn"]):
            continue
        rows.append(
            {
                "key": value["key"],
                "type": value["type"],
                "label": {"en": value["label_en"], "zh-CN": value["label_zh_cn"]},
                "required": value["required"] == "1",
                "options": [line.strip() for line in form.get(f"q{index}_options", "").splitlines() if line.strip()],
            }
        )
    return rows


def _body(form: dict[str, str], *, creating: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": {"en": form.get("title_en", ""), "zh-CN": form.get("title_zh_cn", "")},
        "prompt": {"en": form.get("prompt_en", ""), "zh-CN": form.get("prompt_zh_cn", "")},
        "comment_required": form.get("comment_required") == "1",
        "active": form.get("active") == "1",
    }
    kind = form.get("kind", "")
    if creating:
        body |= {"key": form.get("key", "").strip(), "kind": kind}
    if kind == SurveyKind.CUSTOM or (creating and _question_rows(form)):
        body["questions"] = _question_rows(form)
    return body


def _input_for(location: str) -> str:
    """Where a problem's location points in the form: `questions.2.label.en` is row 2's English label."""
    parts = location.removeprefix("body.").split(".")
    if parts[0] == "questions" and len(parts) > 1 and parts[1].isdigit():
        name = (
            {"label": "label_en" if parts[-1] == "en" else "label_zh_cn"}.get(parts[2], parts[2])
            if len(parts) > 2
            else "key"
        )
        return f"q{parts[1]}_{name}"
    if parts[0] in ("title", "prompt") and len(parts) > 1:
        return f"{parts[0]}_{'en' if parts[1] == 'en' else 'zh_cn'}"
    return parts[0] or "questions"


def _problems(exc: ValidationError | AppError) -> Problems:
    if isinstance(exc, ValidationError):
        return [
            {
                "field": _input_for(".".join(str(p) for p in err["loc"])),
                "message": problem_message(err),
            }
            for err in exc.errors()
        ]
    details = exc.details if isinstance(exc.details, list) else []
    found = [{"field": _input_for(str(d.get("field", ""))), "message": str(d.get("message", ""))} for d in details]
    return found or [{"field": "key", "message": exc.message}]


def _values(survey: Survey) -> dict[str, str]:
    values = {
        "key": survey.key,
        "kind": survey.kind,
        "title_en": survey.title_en,
        "title_zh_cn": survey.title_zh_cn,
        "prompt_en": survey.prompt_en,
        "prompt_zh_cn": survey.prompt_zh_cn,
        "comment_required": "1" if survey.comment_required else "",
        "active": "1" if survey.active else "",
    }
    for index, question in enumerate(survey.questions[:FORM_QUESTIONS]):
        values |= {
            f"q{index}_key": question["key"],
            f"q{index}_type": question["type"],
            f"q{index}_label_en": question["label"]["en"],
            f"q{index}_label_zh_cn": question["label"]["zh-CN"],
            f"q{index}_required": "1" if question.get("required") else "",
            f"q{index}_options": "\n".join(question.get("options", [])),
        }
    return values


def _context(problems: Problems, values: dict[str, str]) -> dict[str, Any]:
    return {
        "problems": problems,
        "bad_inputs": {p["field"] for p in problems},
        "values": values,
        "kinds": list(SurveyKind),
        "types": list(FieldType),
        "rows": range(FORM_QUESTIONS),
    }


async def _counts(session: AsyncSession) -> dict[Any, tuple[int, int]]:
    """Sends and answers per survey id."""
    stmt = select(SurveySend.survey_id, func.count(), func.count(SurveySend.answered_at)).group_by(SurveySend.survey_id)
    return {row[0]: (int(row[1]), int(row[2])) for row in await session.execute(stmt)}


async def _list_page(
    request: Request,
    session: AsyncSession,
    user: ConsoleUser,
    *,
    values: dict[str, str] | None = None,
    problems: Problems | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    counts = await _counts(session)
    surveys = [(s, *counts.get(s.id, (0, 0))) for s in await care.list_surveys(session)]
    defaults = {"kind": SurveyKind.NPS.value, "active": "1"}
    return render(
        request,
        "surveys.html",
        status_code=status_code,
        user=user,
        surveys=surveys,
        **_context(problems or [], values or defaults),
    )


async def _survey_page(
    request: Request,
    session: AsyncSession,
    user: ConsoleUser,
    key: str,
    *,
    values: dict[str, str] | None = None,
    problems: Problems | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    try:
        survey = await care.get_survey(session, key)
    except NotFound:
        return render(request, "not_found.html", status_code=404, user=user, what="survey")
    sent, answered = (await _counts(session)).get(survey.id, (0, 0))
    return render(
        request,
        "survey.html",
        status_code=status_code,
        user=user,
        active="surveys",
        survey=survey,
        sent=sent,
        answered=answered,
        **_context(problems or [], values or _values(survey)),
    )


@router.get("/surveys", response_class=HTMLResponse)
async def survey_list(
    request: Request, session: SessionDep, user: Annotated[ConsoleUser, require("surveys")]
) -> HTMLResponse:
    return await _list_page(request, session, user)


@router.post("/surveys", response_class=HTMLResponse)
async def survey_create(
    request: Request, session: SessionDep, user: Annotated[ConsoleUser, require("surveys")]
) -> Response:
    form = await checked_form(request, user)
    try:
        survey = await care.create_survey(
            session, SurveyCreate.model_validate(_body(form, creating=True)), actor=user.actor
        )
    except (ValidationError, AppError) as exc:
        await session.rollback()
        status = exc.status_code if isinstance(exc, AppError) else 422
        return await _list_page(request, session, user, values=form, problems=_problems(exc), status_code=status)
    key = survey.key
    await commit(session)
    return RedirectResponse(flash_to(request, f"/console/surveys/{key}", f"Survey {key} added."), status_code=303)


@router.get("/surveys/{key}", response_class=HTMLResponse)
async def survey_view(
    request: Request, key: str, session: SessionDep, user: Annotated[ConsoleUser, require("surveys")]
) -> HTMLResponse:
    return await _survey_page(request, session, user, key)


@router.post("/surveys/{key}", response_class=HTMLResponse)
async def survey_update(
    request: Request, key: str, session: SessionDep, user: Annotated[ConsoleUser, require("surveys")]
) -> Response:
    form = await checked_form(request, user)
    try:
        survey = await care.get_survey(session, key)
        values = {**form, "key": key, "kind": survey.kind}
        data = SurveyUpdate.model_validate(_body(values, creating=False))
        await care.update_survey(session, key, data, actor=user.actor)
    except NotFound:
        return render(request, "not_found.html", status_code=404, user=user, what="survey")
    except (ValidationError, AppError) as exc:
        await session.rollback()
        status = exc.status_code if isinstance(exc, AppError) else 422
        return await _survey_page(
            request, session, user, key, values=values, problems=_problems(exc), status_code=status
        )
    await commit(session)
    return RedirectResponse(flash_to(request, f"/console/surveys/{key}", f"Survey {key} saved."), status_code=303)
