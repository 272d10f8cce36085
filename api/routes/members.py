"""Members: create, 360 view, update, search."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from api.boundary import commit
from api.deps import CurrentKey, IdempotencyKeyDep, SessionDep, SettingsDep, WriterKey
from api.pagination import MEMBER_CURSOR, CursorQuery
from api.respond import commit_write
from api.schemas.common import ERROR_RESPONSES
from api.schemas.members import Member360Out, MemberOut, MemberPage
from core.db import driver_connection
from services import members
from services.analytics import member360
from services.intake import signups
from services.members import MemberCreate, MemberUpdate
from services.platform import audit

router = APIRouter(prefix="/api/v1/members", tags=["members"], responses=ERROR_RESPONSES)


@router.post("", status_code=201, response_model=MemberOut, summary="Create a member (starts the welcome journey)")
async def create_member(
    request: Request,
    body: MemberCreate,
    session: SessionDep,
    key: WriterKey,
    settings: SettingsDep,
    idem: IdempotencyKeyDep,
) -> Response:
    async def make() -> MemberOut:
        member = await signups.register(
            session,
            body,
            source=f"api:{key.name}",
            task_queue=settings.temporal.task_queue,
            actor=audit.person_or_none(key),
        )
        return MemberOut.of(member)

    return await commit_write(request, session, key=key, body=body, idempotency_key=idem, make=make)


@router.get("", response_model=MemberPage, summary="Search members (newest first, cursor pagination)")
async def list_members(
    session: SessionDep,
    _: CurrentKey,
    query: Annotated[str | None, Query(max_length=200, description="external id, phone, or part of name/email")] = None,
    tier: Annotated[str | None, Query(max_length=32)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: CursorQuery = None,
) -> MemberPage:
    rows = await members.search(session, query=query, tier=tier, limit=limit + 1, after=MEMBER_CURSOR.decode(cursor))
    return MemberPage.of(rows, limit, MEMBER_CURSOR, key=lambda m: m.id, item=MemberOut.of)


@router.get("/{member_id}", response_model=Member360Out, summary="The member 360 view")
async def get_member(member_id: uuid.UUID, request: Request, _: CurrentKey) -> Response:
    """PostgreSQL builds the document (`Member360Out`) in one statement; it is sent as it comes. The pooled
    connection is taken here rather than through a yield dependency, whose exit stack cost more than the query."""
    # The hottest read: each dependency is one more resolution per request, so the links come from the app
    # state (built once from the settings) rather than through a settings dependency.
    links = request.app.state.member_links.of(member_id)
    async with driver_connection(request.app.state.engine) as driver:
        body = await member360.view_json(driver, member_id, links=links)
    return Response(body, media_type="application/json")


# The 360 once more, alone in a router that the app matches before every other route (api/app.py): in
# `router` it is the third route, and FastAPI tries the routes before it twice per request (to match, then
# to dispatch). Left out of the OpenAPI document, where `router` lists it.
read_router = APIRouter(prefix="/api/v1/members")
read_router.add_api_route(
    "/{member_id}", get_member, methods=["GET"], response_model=Member360Out, include_in_schema=False
)


@router.patch(
    "/{member_id}", response_model=MemberOut, summary="Update profile fields, consent, tags and custom field values"
)
async def update_member(member_id: uuid.UUID, body: MemberUpdate, session: SessionDep, key: WriterKey) -> MemberOut:
    member = await members.update(session, member_id, body, source=f"api:{key.name}", actor=audit.person_or_none(key))
    out = MemberOut.of(member)
    await commit(session)
    return out
