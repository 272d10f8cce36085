"""Segments: saved member filters, previews (count and sample) and the RFM summary."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response

from api.boundary import commit
from api.deps import CurrentKey, IdempotencyKeyDep, MarketerKey, SessionDep
from api.respond import commit_write
from api.schemas.common import ERROR_RESPONSES
from api.schemas.segments import PreviewOut, PreviewRequest, RfmGroupOut, SegmentOut
from services import segments
from services.platform.audit import Actor
from services.segments import SegmentCreate

router = APIRouter(tags=["segments"], responses=ERROR_RESPONSES)


@router.get("/api/v1/segments", response_model=list[SegmentOut], summary="Saved segments, by name")
async def list_segments(session: SessionDep, _: CurrentKey) -> list[SegmentOut]:
    return [SegmentOut.model_validate(s) for s in await segments.list_segments(session)]


@router.get(
    "/api/v1/segments/rfm",
    response_model=list[RfmGroupOut],
    summary="Members and revenue per RFM segment (and those who never purchased)",
)
async def rfm_summary(session: SessionDep, _: CurrentKey) -> list[RfmGroupOut]:
    return [RfmGroupOut.model_validate(g) for g in await segments.rfm_summary(session)]


@router.post(
    "/api/v1/segments/preview",
    response_model=PreviewOut,
    summary="How many members a filter (or a saved segment) matches, with a sample",
)
async def preview_segment(body: PreviewRequest, session: SessionDep, _: MarketerKey) -> PreviewOut:
    if body.segment_id is not None:
        definition = segments.definition_of(await segments.get(session, body.segment_id))
    else:
        assert body.definition is not None
        definition = segments.parse(body.definition)
        await segments.check(session, definition)
    return PreviewOut.model_validate(await segments.preview(session, definition, sample=body.sample))


@router.post("/api/v1/segments", status_code=201, response_model=SegmentOut, summary="Save a segment")
async def create_segment(
    request: Request, body: SegmentCreate, session: SessionDep, key: MarketerKey, idem: IdempotencyKeyDep
) -> Response:
    async def make() -> SegmentOut:
        segment = await segments.create(session, body, actor=Actor.of_key(key))
        return SegmentOut.model_validate(segment)

    return await commit_write(request, session, key=key, body=body, idempotency_key=idem, make=make)


@router.get("/api/v1/segments/{segment_id}", response_model=SegmentOut, summary="One segment")
async def get_segment(segment_id: uuid.UUID, session: SessionDep, _: CurrentKey) -> SegmentOut:
    return SegmentOut.model_validate(await segments.get(session, segment_id))


@router.put(
    "/api/v1/segments/{segment_id}",
    response_model=SegmentOut,
    summary="Replace a segment (campaigns already started keep their snapshot)",
)
async def update_segment(
    segment_id: uuid.UUID, body: SegmentCreate, session: SessionDep, key: MarketerKey
) -> SegmentOut:
    segment = await segments.update(session, segment_id, body, actor=Actor.of_key(key))
    out = SegmentOut.model_validate(segment)
    await commit(session)
    return out


@router.delete(
    "/api/v1/segments/{segment_id}",
    status_code=204,
    response_class=Response,
    summary="Delete a segment (409 segment_in_use while a campaign refers to it)",
)
async def delete_segment(segment_id: uuid.UUID, session: SessionDep, key: MarketerKey) -> Response:
    await segments.delete(session, segment_id, actor=Actor.of_key(key))
    await commit(session)
    return Response(status_code=204)
