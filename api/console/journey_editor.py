"""The journey editor's JSON calls (under /console/api/): validate as the marketer works, save and discard the
draft, publish it as a new version (or create a new journey), compare two versions, and preview a send step's
template. Each takes the console session and its CSRF token (api.console.builder.checked_json), answers bad input
with the same error envelope and field paths as the HTTP API (`body.steps.2.send.template`), and commits once."""

from __future__ import annotations

import uuid
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, ValidationError

from api.boundary import commit
from api.console.auth import ConsoleUser, require
from api.console.builder import checked_json
from api.deps import SessionDep, SettingsDep
from core.errors import AppError, InvalidInput, NotFound
from models import JourneyDraft, JourneyVersion
from services import journeys
from services.journeys import drafts
from services.journeys.diff import diff
from services.messaging import Category, previews
from services.messaging.templates import Channel, LocaleTag, TemplateKey

router = APIRouter(prefix="/api")
Editor = Annotated[ConsoleUser, require("journeys")]


def _definition_of(body: dict[str, Any]) -> dict[str, Any]:
    raw = body.get("definition")
    if not isinstance(raw, dict):
        raise InvalidInput(
            "the request needs a definition",
            code="invalid_definition",
            details=[{"field": "body", "message": "definition must be a JSON object"}],
        )
    return raw


async def problems_of(session: SessionDep, raw: dict[str, Any]) -> list[dict[str, str]]:
    """Exactly what POST /api/v1/journeys/validate answers: the schema's errors, else the checks' problems."""
    try:
        definition = journeys.parse(raw)
    except AppError as exc:
        return list(exc.details or [{"field": "body", "message": exc.message}])
    return [{"field": f"body.{p.path}", "message": p.message} for p in await journeys.check(session, definition)]


@router.post("/journeys/validate")
async def validate(request: Request, session: SessionDep, user: Editor) -> dict[str, Any]:
    raw = _definition_of(await checked_json(request, user))
    problems = await problems_of(session, raw)
    return {"valid": not problems, "problems": problems}


def draft_out(draft: JourneyDraft) -> dict[str, Any]:
    return {
        "kind": draft.kind,
        "definition": draft.definition,
        "layout": draft.layout,
        "base_version": draft.base_version,
        "updated_by": draft.updated_by,
        "updated_at": draft.updated_at.isoformat(),
    }


@router.put("/journeys/{kind}/draft")
async def save_draft(kind: str, request: Request, session: SessionDep, user: Editor) -> dict[str, Any]:
    body = await checked_json(request, user)
    raw, layout = _definition_of(body), drafts.read_layout(body.get("layout"))
    draft = await drafts.save_draft(session, kind, raw, layout, actor=user.actor)
    out = draft_out(draft)
    await commit(session)
    return out


@router.delete("/journeys/{kind}/draft")
async def discard_draft(kind: str, request: Request, session: SessionDep, user: Editor) -> dict[str, Any]:
    await checked_json(request, user)
    await drafts.discard_draft(session, kind, actor=user.actor)
    await commit(session)
    return {"kind": kind, "discarded": True}


async def _publish(
    session: SessionDep, user: ConsoleUser, kind: str, body: dict[str, Any], *, new: bool
) -> JSONResponse:
    raw, layout = _definition_of(body), drafts.read_layout(body.get("layout"))
    row = await drafts.publish_draft(session, kind, raw, layout, actor=user.actor, new=new)
    out = {"kind": row.kind, "version": row.version, "url": f"/console/journeys/{row.kind}"}
    await commit(session)
    return JSONResponse(out, status_code=201)


@router.post("/journeys")
async def create_journey(request: Request, session: SessionDep, user: Editor) -> JSONResponse:
    """A new journey from the editor: the kind is the definition's."""
    body = await checked_json(request, user)
    kind = _definition_of(body).get("kind")
    if not isinstance(kind, str):
        raise InvalidInput(
            "the journey needs a kind",
            code="invalid_definition",
            details=[{"field": "body.kind", "message": "Field required"}],
        )
    return await _publish(session, user, kind, body, new=True)


@router.post("/journeys/{kind}/versions")
async def publish_version(kind: str, request: Request, session: SessionDep, user: Editor) -> JSONResponse:
    body = await checked_json(request, user)
    await journeys.get_journey(session, kind)
    return await _publish(session, user, kind, body, new=False)


def _side(row: JourneyVersion) -> dict[str, Any]:
    return {"version": row.version, "definition": row.definition, "layout": row.layout or {}}


@router.get("/journeys/{kind}/diff")
async def compare(
    kind: str,
    session: SessionDep,
    _: Editor,
    old: Annotated[int, Query(alias="from", ge=1, le=1_000_000)],
    new: Annotated[int, Query(alias="to", ge=1, le=1_000_000)],
) -> dict[str, Any]:
    """What changed from version `from` to version `to`: per step, per edge and the journey's settings, with
    both versions (definition and positions) for drawing."""
    before, after = await journeys.get_version(session, kind, old), await journeys.get_version(session, kind, new)
    try:
        changes = diff(journeys.parse(before.definition), journeys.parse(after.definition))
    except InvalidInput as exc:  # a stored version the schema no longer reads: nothing to compare
        raise NotFound("this version cannot be compared", code="journey_version_unreadable") from exc
    return {"from": _side(before), "to": _side(after), **asdict(changes)}


class StepPreview(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: Channel
    template: TemplateKey
    locale: LocaleTag = "en"
    member_id: uuid.UUID | None = None
    coupon: TemplateKey | None = None
    category: Category = Category.MARKETING


@router.post("/templates/preview")
async def preview(request: Request, session: SessionDep, settings: SettingsDep, user: Editor) -> dict[str, Any]:
    """A send step's template rendered for a member (or a placeholder one) in the locale picked."""
    try:
        wanted = StepPreview.model_validate(await checked_json(request, user))
    except ValidationError as exc:
        details = [{"field": ".".join(["body", *map(str, e["loc"])]), "message": e["msg"]} for e in exc.errors()]
        raise InvalidInput("the preview request is invalid", details=details) from exc
    rendered = await previews.step_preview(
        session,
        template=wanted.template,
        channel=wanted.channel,
        locale=wanted.locale,
        member_id=wanted.member_id,
        coupon_template=wanted.coupon,
        marketing=wanted.category == Category.MARKETING,
        brand=settings.messaging.brand_name,
        public_url=settings.messaging.public_url,
    )
    return {
        "locale": rendered.locale,
        "subject": rendered.subject,
        "body": rendered.html if rendered.html is not None else rendered.body,
        "text": rendered.text,
    }
