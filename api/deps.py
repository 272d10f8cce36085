"""Request dependencies as Annotated aliases: the session, the caller's key and role, Temporal."""

from __future__ import annotations

import re
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client

from api.boundary import request_session
from api.temporal import TemporalConnector
from core.errors import Forbidden, InvalidInput, Unauthorized
from core.settings import Settings
from models import ApiKey
from services.platform import api_keys
from services.platform.api_keys import Role

_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer mf_…`")
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


async def _current_key(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> ApiKey:
    """The caller's key, from the process's key cache (no query per request; see services.platform.api_keys)."""
    if credentials is None or not credentials.credentials.strip():
        raise Unauthorized("an API key is required: send `Authorization: Bearer <key>`", code="missing_api_key")
    return await api_keys.authenticate_cached(request.app.state.sessions, credentials.credentials.strip())


CurrentKey = Annotated[ApiKey, Depends(_current_key)]


def require_roles(*roles: Role) -> Callable[[ApiKey], Coroutine[Any, Any, ApiKey]]:
    allowed = {role.value for role in roles} | {Role.ADMIN.value}

    async def check(key: CurrentKey) -> ApiKey:
        if key.role not in allowed:
            raise Forbidden(
                f"this action needs one of the roles: {', '.join(sorted(allowed))}; your key has {key.role!r}",
                code="insufficient_role",
                details={"required": sorted(allowed), "role": key.role},
            )
        return key

    return check


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
