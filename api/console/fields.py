"""Custom member fields (admin): the list with how many members hold each, adding a field, editing one, and
deleting one (refused while members hold values, unless forced), with the service's problems shown inline."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from api.boundary import commit
from api.console.auth import ConsoleUser, checked_form, require
from api.console.render import flash_to, render
from api.deps import SessionDep
from core.errors import AppError, NotFound, problem_message
from models import MemberField
from services.members import fields
from services.members.fields import SELECT_TYPES, FieldCreate, FieldType, FieldUpdate

router = APIRouter()

Problems = list[dict[str, str]]

# Where a problem's location (pydantic's, or the service's `body.` field) points in the form.
_INPUTS = {
    "key": "key",
    "labels": "label_en",
    "labels.en": "label_en",
    "labels.zh-CN": "label_zh_cn",
    "labels.zh_cn": "label_zh_cn",
    "type": "type",
    "options": "options",
    "required": "required",
    "personal_data": "personal_data",
}


def _input_for(location: str) -> str:
    location = location.removeprefix("body.")
    if location.startswith("options"):
        return "options"
    # Model-level checks (no location) are about options: a select type needs them, other types take none.
    return _INPUTS.get(location, "options" if not location else location)


def _options(form: dict[str, str]) -> list[str]:
    """One option per line; blank lines are ignored."""
    return [line.strip() for line in form.get("options", "").splitlines() if line.strip()]


def _settings(form: dict[str, str]) -> dict[str, Any]:
    return {
        "labels": {"en": form.get("label_en", ""), "zh-CN": form.get("label_zh_cn", "")},
        "type": form.get("type", ""),
        "options": _options(form),
        "required": form.get("required") == "1",
        "personal_data": form.get("personal_data") == "1",
    }


def _validation_problems(exc: ValidationError) -> Problems:
    return [
        {
            "field": _input_for(".".join(str(part) for part in err["loc"])),
            "message": problem_message(err),
        }
        for err in exc.errors()
    ]


def _service_problems(exc: AppError, default: str) -> Problems:
    details = exc.details if isinstance(exc.details, list) else []
    problems = [
        {"field": _input_for(str(d.get("field", ""))), "message": str(d.get("message", ""))}
        for d in details
        if isinstance(d, dict)
    ]
    return problems or [{"field": default, "message": exc.message}]


def _values(field: MemberField) -> dict[str, str]:
    """A stored field as the edit form's values."""
    return {
        "key": field.key,
        "label_en": field.label_en,
        "label_zh_cn": field.label_zh_cn,
        "type": field.type,
        "options": "\n".join(field.options),
        "required": "1" if field.required else "",
        "personal_data": "1" if field.personal_data else "",
    }


def _context(problems: Problems) -> dict[str, Any]:
    return {
        "problems": problems,
        "bad_inputs": {p["field"] for p in problems},
        "types": list(FieldType),
        "select_types": [t.value for t in SELECT_TYPES],
    }


async def _list_page(
    request: Request,
    session: AsyncSession,
    user: ConsoleUser,
    *,
    values: dict[str, str] | None = None,
    problems: Problems | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    rows = [(field, await fields.holders(session, field.key)) for field in await fields.list_fields(session)]
    return render(
        request,
        "fields.html",
        status_code=status_code,
        user=user,
        rows=rows,
        values=values or {"type": FieldType.TEXT.value},
        **_context(problems or []),
    )


async def _field_page(
    request: Request,
    session: AsyncSession,
    user: ConsoleUser,
    key: str,
    *,
    values: dict[str, str] | None = None,
    problems: Problems | None = None,
    delete_refused: int | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    try:
        field = await fields.get(session, key)
    except NotFound:
        return render(request, "not_found.html", status_code=404, user=user, what="member field")
    return render(
        request,
        "field.html",
        status_code=status_code,
        user=user,
        active="fields",
        field=field,
        held=await fields.holders(session, key),
        values=values or _values(field),
        delete_refused=delete_refused,
        **_context(problems or []),
    )


@router.get("/fields", response_class=HTMLResponse)
async def field_list(
    request: Request, session: SessionDep, user: Annotated[ConsoleUser, require("fields")]
) -> HTMLResponse:
    return await _list_page(request, session, user)


@router.post("/fields", response_class=HTMLResponse)
async def field_create(
    request: Request, session: SessionDep, user: Annotated[ConsoleUser, require("fields")]
) -> Response:
    form = await checked_form(request, user)
    try:
        data = FieldCreate.model_validate({"key": form.get("key", "").strip(), **_settings(form)})
    except ValidationError as exc:
        return await _list_page(
            request, session, user, values=form, problems=_validation_problems(exc), status_code=422
        )
    try:
        field = await fields.create(session, data, actor=user.actor)
        key = field.key
    except AppError as exc:
        await session.rollback()
        problems = _service_problems(exc, "key")
        return await _list_page(request, session, user, values=form, problems=problems, status_code=exc.status_code)
    await commit(session)
    return RedirectResponse(flash_to(request, "/console/fields", f"Field {key} added."), status_code=303)


@router.get("/fields/{key}", response_class=HTMLResponse)
async def field_view(
    request: Request, key: str, session: SessionDep, user: Annotated[ConsoleUser, require("fields")]
) -> HTMLResponse:
    return await _field_page(request, session, user, key)


@router.post("/fields/{key}", response_class=HTMLResponse)
async def field_update(
    request: Request, key: str, session: SessionDep, user: Annotated[ConsoleUser, require("fields")]
) -> Response:
    form = await checked_form(request, user)
    values = {**form, "key": key}
    try:
        data = FieldUpdate.model_validate(_settings(form))
    except ValidationError as exc:
        problems = _validation_problems(exc)
        return await _field_page(request, session, user, key, values=values, problems=problems, status_code=422)
    try:
        await fields.update_field(session, key, data, actor=user.actor)
    except NotFound:
        return render(request, "not_found.html", status_code=404, user=user, what="member field")
    except AppError as exc:
        await session.rollback()
        # A 409 is about values members hold: for a type change it points at the type, else at the options.
        problems = _service_problems(exc, "type" if exc.code == "member_field_in_use" else "options")
        return await _field_page(
            request, session, user, key, values=values, problems=problems, status_code=exc.status_code
        )
    await commit(session)
    return RedirectResponse(flash_to(request, f"/console/fields/{key}", f"Field {key} saved."), status_code=303)


@router.post("/fields/{key}/delete", response_class=HTMLResponse)
async def field_delete(
    request: Request, key: str, session: SessionDep, user: Annotated[ConsoleUser, require("fields")]
) -> Response:
    form = await checked_form(request, user)
    force = form.get("force") == "1"
    try:
        removed = await fields.delete_field(session, key, force=force, actor=user.actor)
    except NotFound:
        return render(request, "not_found.html", status_code=404, user=user, what="member field")
    except AppError as exc:
        await session.rollback()
        held = exc.details.get("members") if isinstance(exc.details, dict) else None
        return await _field_page(
            request,
            session,
            user,
            key,
            problems=[{"field": "delete", "message": exc.message}],
            delete_refused=held if isinstance(held, int) else await fields.holders(session, key),
            status_code=exc.status_code,
        )
    await commit(session)
    message = f"Field {key} deleted" + (f" and {removed} member value(s) removed." if removed else ".")
    return RedirectResponse(flash_to(request, "/console/fields", message), status_code=303)
