"""Idempotent creates at the request boundary: replay or claim the Idempotency-Key, run, commit once
(through api.boundary, which delivers the outbox rows after the response)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable

from fastapi import Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from api.boundary import commit
from models import ApiKey
from services.platform import idempotency


def _body_hash(body: BaseModel) -> str:
    canonical = json.dumps(body.model_dump(mode="json", exclude_unset=True), sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def commit_write(
    request: Request,
    session: AsyncSession,
    *,
    key: ApiKey,
    body: BaseModel,
    idempotency_key: str | None,
    make: Callable[[], Awaitable[BaseModel]],
    status_code: int = 201,
    status_of: Callable[[BaseModel], int] | None = None,
) -> Response:
    """Run `make` in the request's transaction and commit once. With an Idempotency-Key, the same key and
    body replay the first response; a different body is 409 and nothing runs."""
    claim: idempotency.Claim | None = None
    if idempotency_key is not None:
        result = await idempotency.claim(
            session,
            api_key_id=key.id,
            method=request.method,
            path=request.url.path,
            key=idempotency_key,
            body_hash=_body_hash(body),
        )
        if isinstance(result, idempotency.StoredResponse):
            await session.rollback()
            return JSONResponse(result.body, result.status, headers={"Idempotent-Replayed": "true"})
        claim = result
    out = await make()
    if status_of is not None:
        status_code = status_of(out)
    if claim is None:
        # One pass: pydantic writes the JSON bytes itself (no dict of Python objects, no json.dumps after).
        await commit(session)
        return Response(out.model_dump_json(), status_code, media_type="application/json")
    content = out.model_dump(mode="json")
    await idempotency.complete(session, claim, status=status_code, body=content)
    await commit(session)
    return JSONResponse(content, status_code)
