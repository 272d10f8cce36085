"""Members: create, 360 view, update, search."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from api.boundary import commit
from api.deps import CurrentKey, IdempotencyKeyDep, SessionDep, SettingsDep, WriterKey
from api.pagination import MEMBER_CURSOR, CursorQuery
from api.personal import UnmaskedQuery, audit_reveal, view_of
from api.respond import commit_write
from api.schemas.common import ERROR_RESPONSES
from api.schemas.members import Member360Out, MemberOut, MemberPage
from core.db import driver_connection
from services import members
from services.analytics import member360
from services.intake import signups
from services.intake.signups import MemberSignUp
from services.members import MemberUpdate
from services.platform import audit
from services.privacy import masking

router = APIRouter(prefix="/api/v1/members", tags=["members"], responses=ERROR_RESPONSES)


@router.post("", status_code=201, response_model=MemberOut, summary="Create a member (starts the welcome journey)")
async def create_member(
    request: Request,
    body: MemberSignUp,
    session: SessionDep,
    key: WriterKey,
    settings: SettingsDep,
    idem: IdempotencyKeyDep,
) -> Response:
    async def make() -> MemberOut:
        member = await signups.register(
            session,
            body.member(),
            source=f"api:{key.name}",
            referral_code=body.referral_code,
            task_queue=settings.temporal.task_queue,
            actor=audit.person_or_none(key),
        )
        # The answer to a write is masked like any read (no reveal): the caller knows what it sent.
        view = view_of(key)
        return MemberOut.of(member, view, await masking.open_keys(session, view, [member.attributes]))

    return await commit_write(request, session, key=key, body=body, idempotency_key=idem, make=make)


@router.get("", response_model=MemberPage, summary="Search members (newest first, cursor pagination)")
async def list_members(
    request: Request,
    session: SessionDep,
    key: CurrentKey,
    query: Annotated[str | None, Query(max_length=200, description="external id, phone, or part of name/email")] = None,
    tier: Annotated[str | None, Query(max_length=32)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: CursorQuery = None,
    unmasked: UnmaskedQuery = False,
) -> MemberPage:
    view = view_of(key, unmasked)
    rows = await members.search(session, query=query, tier=tier, limit=limit + 1, after=MEMBER_CURSOR.decode(cursor))
    open_keys = await masking.open_keys(session, view, [m.attributes for m in rows])
    page = MemberPage.of(
        rows, limit, MEMBER_CURSOR, key=lambda m: m.id, item=lambda m: MemberOut.of(m, view, open_keys)
    )
    await audit_reveal(session, request, key, view, [m.id for m in page.items])
    return page


@router.get("/{member_id}", response_model=Member360Out, summary="The member 360 view")
async def get_member(
    member_id: uuid.UUID, request: Request, key: CurrentKey, unmasked: UnmaskedQuery = False
) -> Response:
    """PostgreSQL builds the document (`Member360Out`) in one statement; it is sent as it comes when revealed,
    and with its personal fields masked for the key's role otherwise (services.privacy.masking). The pooled
    connection is taken here rather than through a yield dependency, whose exit stack cost more than the query."""
    # The hottest read: each dependency is one more resolution per request, so the links come from the app
    # state (built once from the settings) rather than through a settings dependency.
    view = view_of(key, unmasked)
    member_links = request.app.state.member_links
    links, join = member_links.of(member_id), member_links.referral_join
    if view.unmasked:
        async with driver_connection(request.app.state.engine) as driver:
            body = await member360.view_json(driver, member_id, links=links, join=join)
        async with request.app.state.sessions() as session:
            await audit_reveal(session, request, key, view, [member_id])
        return Response(body, media_type="application/json")
    async with driver_connection(request.app.state.engine) as driver:
        found = await member360.view_maskable(driver, member_id, links=links, join=join)
    return Response(
        found.document(masking.member_document(view, found.personal, found.open_keys)), media_type="application/json"
    )


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
    view = view_of(key)
    out = MemberOut.of(member, view, await masking.open_keys(session, view, [member.attributes]))
    await commit(session)
    return out
