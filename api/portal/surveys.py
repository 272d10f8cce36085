"""The survey answer page, /portal/s/{token}: reached from the signed link of a survey invitation, no sign-in
needed (the link is the credential for that one send, and signs nobody in to the portal).

A tampered link is a 400 page, an expired one 410, a survey answered before a 409 page that keeps the first
answer; an answer with problems comes back (422) with a message on each field at fault and nothing stored."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from api.boundary import commit
from api.deps import SessionDep
from api.portal import i18n
from api.portal.render import MAX_FORM_BYTES, FormError, render
from api.portal.session import now, secret_of, settings_of
from core.errors import InvalidInput, NotFound
from services import care
from services.care.survey_defs import SCALES
from services.members.fields import FieldType
from services.messaging.service import SURVEY_LINK_PURPOSE
from services.platform import signed

router = APIRouter()
MAX_FIELDS = 400


def _message(request: Request, locale: str, title: str, text: str, status_code: int) -> Response:
    t = i18n.translator(locale)
    return render(request, "message.html", locale=locale, status_code=status_code, title=t(title), text=t(text))


async def _view(request: Request, session: SessionDep, token: str) -> care.SendView | Response:
    """The send the link names, or the page that says why the link does not work."""
    locale = i18n.choose(request)
    try:
        send_id = signed.verify_link(secret_of(request), token, SURVEY_LINK_PURPOSE, now=now(request))
        return await care.open_send(session, send_id)
    except signed.ExpiredLink:
        return _message(request, locale, "survey_link_title", "survey_link_expired", 410)
    except (signed.InvalidLink, NotFound):
        return _message(request, locale, "survey_link_title", "survey_invalid_link", 400)


def _page(
    request: Request,
    view: care.SendView,
    *,
    values: dict[str, Any] | None = None,
    problems: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    locale = i18n.choose(request, view.member_locale)
    zh = locale == "zh-CN"
    survey = view.survey
    scale = SCALES.get(survey.kind)
    return render(
        request,
        "survey.html",
        locale=locale,
        status_code=status_code,
        error=i18n.translator(locale)("survey_fix") if problems else None,
        title=survey.title_zh_cn if zh else survey.title_en,
        prompt=survey.prompt_zh_cn if zh else survey.prompt_en,
        kind=survey.kind,
        scores=list(range(scale[0], scale[1] + 1)) if scale else [],
        comment_required=survey.comment_required,
        questions=[(q, q.label.zh_cn if zh else q.label.en) for q in view.questions],
        values=values or {},
        problems=problems or {},
        action=request.url.path,
    )


async def _read(request: Request, view: care.SendView) -> dict[str, Any]:
    """The urlencoded form as the answer's raw values: a list for a multi-select question, else the first value."""
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/x-www-form-urlencoded":
        raise FormError("form posts only")
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise FormError("the form is too large")
    try:
        fields = parse_qs(body.decode(), keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except (UnicodeDecodeError, ValueError) as exc:
        raise FormError("the form could not be read") from exc
    multi = {q.key for q in view.questions if q.type == FieldType.MULTI_SELECT}
    return {name: values if name in multi else values[0] for name, values in fields.items()}


def _words(locale: str, details: list[dict[str, Any]]) -> dict[str, str]:
    """Each problem in the member's language, by the form field it belongs to (`score`, `comment`, a key)."""
    t = i18n.translator(locale)
    words: dict[str, str] = {}
    for detail in details:
        name = str(detail.get("field", "")).removeprefix("answers.")
        kind = str(detail.get("type", "required"))
        if name == "score":
            key = "problem_score_required" if kind == "required" else "problem_score_range"
            words[name] = t(key, min=detail.get("min", 0), max=detail.get("max", 10))
        elif kind == "too_long":
            words[name] = t("problem_too_long", max=detail.get("max", 2000))
        else:
            words[name] = t(f"problem_{kind}") if f"problem_{kind}" in i18n.STRINGS else t("problem_required")
    return words


@router.get("/s/{token}")
async def survey_form(request: Request, session: SessionDep, token: str, done: int = 0) -> Response:
    view = await _view(request, session, token)
    if isinstance(view, Response):
        return view
    locale = i18n.choose(request, view.member_locale)
    if view.answered:
        if done:
            return _message(request, locale, "survey_thanks_title", "survey_thanks", 200)
        return _message(request, locale, "survey_answered_title", "survey_answered", 200)
    if not view.survey.active:
        return _message(request, locale, "survey_link_title", "survey_closed", 410)
    return _page(request, view)


@router.post("/s/{token}")
async def answer_survey(request: Request, session: SessionDep, token: str) -> Response:
    view = await _view(request, session, token)
    if isinstance(view, Response):
        return view
    locale = i18n.choose(request, view.member_locale)
    if view.answered:
        return _message(request, locale, "survey_answered_title", "survey_answered", 409)
    if not view.survey.active:
        return _message(request, locale, "survey_link_title", "survey_closed", 410)
    try:
        raw = await _read(request, view)
    except FormError:
        return _page(request, view, problems={"score": i18n.translator(locale)("problem_required")}, status_code=422)
    try:
        await care.answer(
            session, view.send.id, raw, task_queue=settings_of(request).temporal.task_queue, now=now(request)
        )
    except care.AlreadyAnswered:  # a concurrent answer got there first
        return _message(request, locale, "survey_answered_title", "survey_answered", 409)
    except InvalidInput as exc:
        return _page(request, view, values=raw, problems=_words(locale, list(exc.details or [])), status_code=422)
    await commit(session)
    return RedirectResponse(f"{request.url.path}?done=1", status_code=303)
