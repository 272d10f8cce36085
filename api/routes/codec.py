"""The codec endpoint (Temporal's remote codec protocol): POST {prefix}/encode and {prefix}/decode take and
return {"payloads": [{"metadata": {name: base64}, "data": base64}]}, so the Temporal UI and the `temporal`
CLI show payloads that the worker and the API encrypt (core/codec.py), and ops never hold the keys.

Two doors, the same handlers, ops and admin only:
- /codec/*: an API key, `Authorization: Bearer mf_…` (the CLI: `--codec-auth 'Bearer mf_…'`);
- /console/codec/*: the console session cookie (path /console), which the Temporal UI's browser sends when
  the UI is configured with TEMPORAL_CODEC_INCLUDE_CREDENTIALS, so ops signed into the console see decoded
  payloads in the UI without pasting a key anywhere.
CORS (api/codec_cors.py) lets only the configured Temporal UI origin call either from a browser."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field
from temporalio.api.common.v1 import Payload

from api.auth_guard import api_key_for
from api.console.auth import COOKIE, read_cookie
from core.codec import CodecError, EncryptionCodec
from core.errors import Forbidden, InvalidInput, NotFound, Unauthorized
from core.settings import Settings
from models import ApiKey
from services.platform.api_keys import Role

MAX_PAYLOADS = 1000
CODEC_ROLES = frozenset({Role.OPS.value, Role.ADMIN.value})
_bearer = HTTPBearer(
    auto_error=False, scheme_name="CodecBearer", description="An API key of the ops or admin role: `Bearer mf_…`"
)


class CodecPayload(BaseModel):
    """One Temporal payload in proto3 JSON: every bytes field base64 (standard alphabet)."""

    metadata: dict[str, str] = Field(default_factory=dict, max_length=64)
    data: str = ""


class CodecPayloads(BaseModel):
    payloads: list[CodecPayload] = Field(max_length=MAX_PAYLOADS)


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _codec(request: Request) -> EncryptionCodec:
    """Built once per app from settings; 404 where payload encryption is off (nothing to decode)."""
    codec: EncryptionCodec | None = getattr(request.app.state, "codec", None)
    if codec is None:
        ring = _settings(request).temporal.key_ring()
        if ring is None:
            raise NotFound(
                "payload encryption is off here (MEMBERFLOW_TEMPORAL__CODEC_KEYS is unset)", code="codec_disabled"
            )
        codec = request.app.state.codec = EncryptionCodec(ring)
    return codec


def _authorize(key: ApiKey | None) -> ApiKey:
    if key is None:
        raise Unauthorized("the codec endpoint needs an ops or admin API key, or a console session")
    if key.role not in CODEC_ROLES:
        raise Forbidden(
            f"decoding payloads needs the ops or admin role; this key has {key.role!r}",
            code="insufficient_role",
            details={"required": sorted(CODEC_ROLES), "role": key.role},
        )
    return key


async def _by_api_key(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> ApiKey:
    secret = credentials.credentials.strip() if credentials is not None else None
    if not secret:
        return _authorize(None)
    return _authorize(await api_key_for(request, secret))


async def _by_console_session(request: Request) -> ApiKey:
    token = read_cookie(_settings(request), request.cookies.get(COOKIE))
    if token is None:
        return _authorize(None)
    async with request.app.state.sessions() as session:
        key = await session.get(ApiKey, token.key_id)
    return _authorize(key if key is not None and key.revoked_at is None else None)


def _namespace_checked(request: Request, namespace: str | None) -> None:
    served = _settings(request).temporal.namespace
    if namespace is None:
        raise InvalidInput(
            "the X-Namespace header is required",
            details=[{"field": "x-namespace", "message": "name the Temporal namespace of the payloads"}],
        )
    if namespace != served:
        # Bad input, not a missing permission: the same key may decode the served namespace.
        raise InvalidInput(
            f"this codec serves the namespace {served!r}, not {namespace!r}",
            code="namespace_not_served",
            details=[{"field": "x-namespace", "message": f"must be {served!r}"}],
        )


def _to_proto(body: CodecPayloads) -> list[Payload]:
    payloads = []
    for index, item in enumerate(body.payloads):
        try:
            metadata = {name: base64.b64decode(value, validate=True) for name, value in item.metadata.items()}
            data = base64.b64decode(item.data, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise InvalidInput(
                "payload fields must be base64",
                details=[{"field": f"payloads.{index}", "message": f"not valid base64: {exc}"}],
            ) from exc
        payloads.append(Payload(metadata=metadata, data=data))
    return payloads


def _to_json(payloads: Sequence[Payload]) -> CodecPayloads:
    return CodecPayloads(
        payloads=[
            CodecPayload(
                metadata={name: base64.b64encode(value).decode() for name, value in p.metadata.items()},
                data=base64.b64encode(p.data).decode(),
            )
            for p in payloads
        ]
    )


async def _apply(
    request: Request,
    body: CodecPayloads,
    namespace: str | None,
    step: Callable[[EncryptionCodec, list[Payload]], Awaitable[list[Payload]]],
) -> CodecPayloads:
    _namespace_checked(request, namespace)
    codec = _codec(request)
    try:
        return _to_json(await step(codec, _to_proto(body)))
    except CodecError as exc:
        raise InvalidInput(str(exc), code="undecodable_payload") from exc


NamespaceHeader = Annotated[str | None, Header(alias="X-Namespace", description="The payloads' Temporal namespace")]


async def _decode(codec: EncryptionCodec, payloads: list[Payload]) -> list[Payload]:
    return await codec.decode(payloads)


async def _encode(codec: EncryptionCodec, payloads: list[Payload]) -> list[Payload]:
    return await codec.encode(payloads)


def _door(prefix: str, caller: Callable[..., Awaitable[ApiKey]], how: str) -> APIRouter:
    door = APIRouter(prefix=prefix, tags=["operations"], dependencies=[Depends(caller)])

    @door.post("/decode", summary=f"Decrypt payloads for the Temporal UI or CLI ({how})")
    async def decode(request: Request, body: CodecPayloads, namespace: NamespaceHeader = None) -> CodecPayloads:
        return await _apply(request, body, namespace, _decode)

    @door.post("/encode", summary=f"Encrypt payloads typed into the Temporal UI or CLI ({how})")
    async def encode(request: Request, body: CodecPayloads, namespace: NamespaceHeader = None) -> CodecPayloads:
        return await _apply(request, body, namespace, _encode)

    return door


router = APIRouter()
router.include_router(_door("/codec", _by_api_key, "API key"))
# A browser door, like the console's pages: left out of the OpenAPI schema.
router.include_router(_door("/console/codec", _by_console_session, "console session"), include_in_schema=False)
