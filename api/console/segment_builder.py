"""The segment builder's JSON calls: the live count and sample of a draft filter, and saving (create, update) and
deleting a segment. Each answers exactly what the API's segment endpoints answer for the same input (the same
4xx and error envelope), so the builder can show a problem on the row it belongs to."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from api.boundary import commit
from api.console.auth import ConsoleUser, require
from api.console.builder import checked_json
from api.console.render import flash_to
from api.deps import SessionDep
from core.errors import InvalidInput, problem_message
from models import Segment
from services import members, segments
from services.segments import SegmentCreate

router = APIRouter()

SAMPLE = 10
SegmentsUser = Annotated[ConsoleUser, require("segments")]
Model = TypeVar("Model", bound=BaseModel)


class PreviewDraft(BaseModel):
    """What the builder sends while the marketer edits: the draft filter, and how many members to list."""

    model_config = ConfigDict(extra="forbid")

    definition: dict[str, Any] = Field(description="A segment filter (docs/segments.md)")
    sample: int = Field(default=SAMPLE, ge=0, le=50)


def validated(model: type[Model], body: dict[str, Any]) -> Model:
    """`body` as `model`, or the 422 the API's request validation gives for it (fields named `body.<path>`)."""
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        details = [
            {
                "field": ".".join(str(part) for part in ("body", *err["loc"])),
                "message": problem_message(err),
                "type": err["type"],
            }
            for err in exc.errors()
        ]
        fields = ", ".join(d["field"] for d in details[:5])
        raise InvalidInput(f"the request is invalid: {fields}", details=details) from exc


def segment_url(segment_id: uuid.UUID) -> str:
    return f"/console/segments/{segment_id}"


def _money(value: Decimal) -> str:
    return f"{value:.2f}"


async def _preview(session: SessionDep, definition: dict[str, Any], sample: int) -> dict[str, Any]:
    parsed = segments.parse(definition)
    await segments.check(session, parsed)
    found = await segments.preview(session, parsed, sample=sample)
    named = await members.names(session, [m.id for m in found.sample])
    return {
        "count": found.count,
        "sample": [
            {
                "id": str(m.id),
                "name": named.get(m.id),
                "external_id": m.external_id,
                "tier": m.tier,
                "lifetime_spend": _money(m.lifetime_spend),
                "order_count": m.order_count,
                "url": f"/console/members/{m.id}",
            }
            for m in found.sample
        ],
    }


def _saved(request: Request, segment: Segment) -> dict[str, Any]:
    """The saved segment, and where the builder goes next (its page, saying it was saved)."""
    url = segment_url(segment.id)
    return {
        "id": str(segment.id),
        "name": segment.name,
        "description": segment.description,
        "definition": segment.definition,
        "url": url,
        "redirect": flash_to(request, url, f"Saved {segment.name}."),
    }


@router.post("/api/segments/preview")
async def preview_draft(request: Request, session: SessionDep, user: SegmentsUser) -> dict[str, Any]:
    """How many members the draft matches now, and the newest few of them; an invalid draft is the API's 422
    `invalid_segment` with one problem per field (`body.definition.<path>`)."""
    draft = validated(PreviewDraft, await checked_json(request, user))
    return await _preview(session, draft.definition, draft.sample)


@router.post("/api/segments", status_code=201)
async def create_segment(request: Request, session: SessionDep, user: SegmentsUser) -> dict[str, Any]:
    data = validated(SegmentCreate, await checked_json(request, user))
    segment = await segments.create(session, data, actor=user.actor)
    saved = _saved(request, segment)
    await commit(session)
    return saved


@router.put("/api/segments/{segment_id}")
async def update_segment(
    request: Request, segment_id: uuid.UUID, session: SessionDep, user: SegmentsUser
) -> dict[str, Any]:
    data = validated(SegmentCreate, await checked_json(request, user))
    segment = await segments.update(session, segment_id, data, actor=user.actor)
    saved = _saved(request, segment)
    await commit(session)
    return saved


@router.delete("/api/segments/{segment_id}")
async def delete_segment(
    request: Request, segment_id: uuid.UUID, session: SessionDep, user: SegmentsUser
) -> JSONResponse:
    """Delete (409 `segment_in_use` while a campaign refers to it); answers where the builder goes next."""
    await checked_json(request, user)
    name = (await segments.get(session, segment_id)).name
    await segments.delete(session, segment_id, actor=user.actor)
    await commit(session)
    next_page = flash_to(request, "/console/segments", f"Deleted {name}.")
    return JSONResponse({"deleted": str(segment_id), "redirect": next_page})
