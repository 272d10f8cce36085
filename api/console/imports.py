"""Bulk imports in the console: recent imports and one import's progress bar, counts and error file."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from api.console.auth import ConsoleUser, require
from api.console.render import render
from api.deps import SessionDep
from api.routes.imports import error_csv
from core.errors import NotFound
from services import imports

router = APIRouter()
RUNNING = ("queued", "running")


@router.get("/imports", response_class=HTMLResponse)
async def import_list(
    request: Request, session: SessionDep, user: Annotated[ConsoleUser, require("imports")]
) -> HTMLResponse:
    rows = await imports.recent(session, limit=50)
    refresh = any(row.state in RUNNING for row in rows)
    return render(request, "imports.html", user=user, rows=rows, refresh=refresh)


@router.get("/imports/{import_id}", response_class=HTMLResponse)
async def import_page(
    request: Request, import_id: uuid.UUID, session: SessionDep, user: Annotated[ConsoleUser, require("imports")]
) -> HTMLResponse:
    try:
        progress = await imports.progress(session, import_id)
    except NotFound:
        return render(request, "not_found.html", status_code=404, user=user, what="import")
    return render(request, "import.html", user=user, imp=progress, refresh=progress.state in RUNNING)


@router.get("/imports/{import_id}/errors.csv")
async def import_errors(
    import_id: uuid.UUID, session: SessionDep, _: Annotated[ConsoleUser, require("imports")]
) -> Response:
    return await error_csv(session, import_id)
