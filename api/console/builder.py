"""The console's JSON calls, which the builders (journey canvas, rule and segment builders) make from the page:
the shared CSRF-checked body reader, and the catalog of what their pickers offer.

They live under /console/api/, behind the console's session cookie and roles. Their errors are the API's
envelope (a missing session is a 401, a wrong role a 403, see api.console.auth.wants_json), so a builder
shows the same precise messages as the HTTP API does."""

from __future__ import annotations

import hmac
import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from api.console.auth import ConsoleUser, current_user
from api.console.catalog import catalog
from api.deps import SessionDep
from core.errors import AppError, Forbidden

router = APIRouter()
CSRF_HEADER = "X-CSRF-Token"


class MalformedJson(AppError):
    status_code = 400
    code = "malformed_json"


async def checked_json(request: Request, user: ConsoleUser) -> dict[str, Any]:
    """The JSON object a builder posted, after checking the session's CSRF token in the X-CSRF-Token header."""
    if not hmac.compare_digest(request.headers.get(CSRF_HEADER, ""), user.csrf):
        raise Forbidden("the page's security token is missing or out of date: reload the page", code="csrf_rejected")
    try:
        body = json.loads(await request.body())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MalformedJson(f"the body is not valid JSON: {exc}") from exc
    except RecursionError as exc:  # hostile nesting, thousands deep: the decoder gives up before the service
        raise MalformedJson("the body nests too deeply") from exc
    if not isinstance(body, dict):
        raise MalformedJson("the body must be a JSON object")
    return body


@router.get("/api/catalog")
async def builder_catalog(session: SessionDep, _: Annotated[ConsoleUser, Depends(current_user)]) -> JSONResponse:
    """What the builders' pickers offer: templates, coupons, events, tiers, tags, member fields, condition fields."""
    return JSONResponse(await catalog(session))
