"""Custom member fields: admins define them, every console role reads them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from api.boundary import commit
from api.deps import AdminKey, CurrentKey, IdempotencyKeyDep, SessionDep
from api.respond import commit_write
from api.schemas.common import ERROR_RESPONSES
from api.schemas.member_fields import MemberFieldDeleted, MemberFieldOut
from services.members import fields
from services.members.fields import FieldCreate, FieldUpdate
from services.platform.audit import Actor

router = APIRouter(prefix="/api/v1/member-fields", tags=["member fields"], responses=ERROR_RESPONSES)

FieldKeyPath = Annotated[str, Path(max_length=64, description="The field's key")]


@router.get("", response_model=list[MemberFieldOut], summary="Every custom member field")
async def list_member_fields(session: SessionDep, _: CurrentKey) -> list[MemberFieldOut]:
    return [MemberFieldOut.of(field) for field in await fields.list_fields(session)]


@router.post(
    "",
    status_code=201,
    response_model=MemberFieldOut,
    summary="Define a custom member field (admin)",
)
async def create_member_field(
    request: Request, body: FieldCreate, session: SessionDep, key: AdminKey, idem: IdempotencyKeyDep
) -> Response:
    async def make() -> MemberFieldOut:
        return MemberFieldOut.of(await fields.create(session, body, actor=Actor.of_key(key)))

    return await commit_write(request, session, key=key, body=body, idempotency_key=idem, make=make)


@router.get("/{field_key}", response_model=MemberFieldOut, summary="One field")
async def get_member_field(field_key: FieldKeyPath, session: SessionDep, _: CurrentKey) -> MemberFieldOut:
    return MemberFieldOut.of(await fields.get(session, field_key))


@router.patch(
    "/{field_key}",
    response_model=MemberFieldOut,
    summary="Change a field's labels, type, options or flags (admin; 409 when members hold values it would break)",
)
async def update_member_field(
    field_key: FieldKeyPath, body: FieldUpdate, session: SessionDep, key: AdminKey
) -> MemberFieldOut:
    out = MemberFieldOut.of(await fields.update_field(session, field_key, body, actor=Actor.of_key(key)))
    await commit(session)
    return out


@router.delete(
    "/{field_key}",
    response_model=MemberFieldDeleted,
    summary="Delete a field (admin; 409 while members hold values, unless force=true, which removes them)",
)
async def delete_member_field(
    field_key: FieldKeyPath,
    session: SessionDep,
    key: AdminKey,
    force: Annotated[bool, Query(description="Also remove the values members hold for the field")] = False,
) -> MemberFieldDeleted:
    removed = await fields.delete_field(session, field_key, force=force, actor=Actor.of_key(key))
    await commit(session)
    return MemberFieldDeleted(key=field_key, values_removed=removed)
