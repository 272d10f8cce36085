"""API keys (admin only)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.boundary import commit
from api.deps import AdminKey, IdempotencyKeyDep, SessionDep
from api.respond import commit_write
from api.schemas.common import ERROR_RESPONSES
from api.schemas.keys import KeyCreate, KeyCreated, KeyOut
from services.platform import api_keys
from services.platform.audit import Actor

router = APIRouter(prefix="/api/v1/keys", tags=["keys"], responses=ERROR_RESPONSES)


@router.post("", status_code=201, response_model=KeyCreated, summary="Create an API key (shown once)")
async def create_key(
    request: Request, body: KeyCreate, session: SessionDep, key: AdminKey, idem: IdempotencyKeyDep
) -> Response:
    async def make() -> KeyCreated:
        issued = await api_keys.create(
            session,
            name=body.name,
            role=body.role,
            expires_at=body.expiry(),
            personal_data=body.personal_data,
            actor=Actor.of_key(key),
        )
        return KeyCreated(**KeyOut.model_validate(issued.key).model_dump(), key=issued.secret)

    return await commit_write(request, session, key=key, body=body, idempotency_key=idem, make=make)


@router.get("", response_model=list[KeyOut], summary="List API keys (without secrets)")
async def list_keys(session: SessionDep, _: AdminKey) -> list[KeyOut]:
    return [KeyOut.model_validate(k) for k in await api_keys.list_keys(session)]


@router.delete("/{key_id}", response_model=KeyOut, summary="Revoke an API key")
async def revoke_key(key_id: uuid.UUID, session: SessionDep, admin: AdminKey) -> KeyOut:
    key = await api_keys.revoke(session, key_id, actor=Actor.of_key(admin))
    await commit(session)
    return KeyOut.model_validate(key)
