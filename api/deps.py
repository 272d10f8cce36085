"""Request dependencies as Annotated aliases: the session, the caller's key and role, Temporal."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.security import HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client

from api.auth_guard import api_key_for
from api.boundary import request_session
from api.temporal import TemporalConnector
from core.errors import Forbidden, InvalidInput
from core.settings import Settings
from models import ApiKey
from services.platform.api_keys import Role

_BEARER_DESCRIPTION = "An API key: `Authorization: Bearer mf_…`"
_IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")


SessionDep = Annotated[AsyncSession, Depends(request_session)]


# Dependencies are `async def` even when they do not await: FastAPI runs a plain `def` dependency in a
# worker thread, which cost about a tenth of a request's CPU on the hot paths.
async def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(_settings)]


async def _temporal(request: Request) -> Client:
    connector: TemporalConnector = request.app.state.temporal
    return await connector.client()


TemporalDep = Annotated[Client, Depends(_temporal)]


class ApiKeyAuth(HTTPBearer):
    """The caller's key, and its role when `roles` are given, resolved in one dependency.

    It is an `HTTPBearer` so the OpenAPI document (and the lock in /docs) shows the bearer scheme as before,
    but it reads the header itself and returns the key: on the hot reads a bearer sub-dependency plus a
    role-check dependency were three dependency resolutions per request where one does. The key comes from
    the process's key cache (no query per request; see services.platform.api_keys), within the limit on failed
    authentications (api.auth_guard)."""

    def __init__(self, *roles: Role) -> None:
        super().__init__(auto_error=False, scheme_name="HTTPBearer", description=_BEARER_DESCRIPTION)
        self.allowed = sorted({role.value for role in roles} | {Role.ADMIN.value}) if roles else None

    async def __call__(self, request: Request) -> ApiKey:  # type: ignore[override]
        key = await api_key_for(request, _bearer_secret(request))
        if self.allowed is not None and key.role not in self.allowed:
            raise Forbidden(
                f"this action needs one of the roles: {', '.join(self.allowed)}; your key has {key.role!r}",
                code="insufficient_role",
                details={"required": list(self.allowed), "role": key.role},
            )
        return key


def _bearer_secret(request: Request) -> str | None:
    """The secret of `Authorization: Bearer <secret>`, read as HTTPBearer reads it (case-insensitive scheme);
    None when the header is missing or malformed."""
    scheme, _, secret = (request.headers.get("authorization") or "").partition(" ")
    secret = secret.strip()
    if scheme.lower() != "bearer" or not secret:
        return None
    return secret


def require_roles(*roles: Role) -> ApiKeyAuth:
    """A dependency that lets through keys with one of `roles`, or admin keys."""
    return ApiKeyAuth(*roles)


CurrentKey = Annotated[ApiKey, Depends(ApiKeyAuth())]

AdminKey = Annotated[ApiKey, Depends(require_roles(Role.ADMIN))]
WriterKey = Annotated[ApiKey, Depends(require_roles(Role.INTEGRATION, Role.MARKETER))]
IntegrationKey = Annotated[ApiKey, Depends(require_roles(Role.INTEGRATION))]
OpsKey = Annotated[ApiKey, Depends(require_roles(Role.OPS))]
ApproverKey = Annotated[ApiKey, Depends(require_roles(Role.APPROVER))]
MarketerKey = Annotated[ApiKey, Depends(require_roles(Role.MARKETER))]


async def _idempotency_key(
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=255)] = None,
) -> str | None:
    if idempotency_key is not None and not _IDEMPOTENCY_KEY.match(idempotency_key):
        raise InvalidInput(
            "Idempotency-Key must be 1-255 printable ASCII characters without spaces", code="invalid_idempotency_key"
        )
    return idempotency_key


IdempotencyKeyDep = Annotated[str | None, Depends(_idempotency_key)]
