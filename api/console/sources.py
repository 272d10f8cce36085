"""Registration sources (admin, marketer): each channel's or store's sign-up link (`/portal/join?src=...`) with
its QR code to download and print (segno, SVG and PNG), the sign-ups each brought in the last 90 days, and a
form to add a source (audited as `portal_source.create`)."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Annotated

import segno
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from api.boundary import commit
from api.console.auth import ConsoleUser, checked_form, require
from api.console.render import flash_to, problem_lines, render
from api.deps import SessionDep
from core.errors import AppError, NotFound
from services.portal import sources

router = APIRouter()
WINDOW_DAYS = 90
QR_KINDS = {"svg": "image/svg+xml", "png": "image/png"}


def _public_url(request: Request) -> str:
    url: str = request.app.state.settings.messaging.public_url
    return url


async def _page(
    request: Request,
    session: AsyncSession,
    user: ConsoleUser,
    *,
    problems: list[str] | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    today = datetime.now(UTC).date()
    rows = await sources.listed(session, start=today - timedelta(days=WINDOW_DAYS - 1), end=today)
    return render(
        request,
        "sources.html",
        status_code=status_code,
        user=user,
        rows=rows,
        link=lambda code: sources.join_url(_public_url(request), code),
        days=WINDOW_DAYS,
        problems=problems or [],
        values=values or {"kind": "store"},
    )


@router.get("/sources", response_class=HTMLResponse)
async def source_list(
    request: Request, session: SessionDep, user: Annotated[ConsoleUser, require("sources")]
) -> Response:
    return await _page(request, session, user)


@router.post("/sources", response_class=HTMLResponse)
async def source_create(
    request: Request, session: SessionDep, user: Annotated[ConsoleUser, require("sources")]
) -> Response:
    form = await checked_form(request, user)
    try:
        body = sources.SourceCreate.model_validate(
            {"code": form.get("code", ""), "label": form.get("label", ""), "kind": form.get("kind") or "store"}
        )
    except ValidationError as exc:
        problems = problem_lines(exc)
        return await _page(request, session, user, problems=problems, values=form, status_code=422)
    try:
        await sources.create(session, body, actor=user.actor)
    except AppError as exc:
        await session.rollback()
        return await _page(request, session, user, problems=[exc.message], values=form, status_code=exc.status_code)
    await commit(session)
    return RedirectResponse(flash_to(request, "/console/sources", f"Source {body.code} added."), status_code=303)


@router.get("/sources/{code}/qr.{kind}")
async def source_qr(
    request: Request, session: SessionDep, user: Annotated[ConsoleUser, require("sources")], code: str, kind: str
) -> Response:
    """The source's link as a QR code to print: SVG (any size) or PNG (about 10 px a module)."""
    if kind not in QR_KINDS or sources.SOURCE_CODE.match(code) is None:
        return render(request, "not_found.html", status_code=404, user=user, what="QR code")
    try:
        await sources.get(session, code)
    except NotFound:
        return render(request, "not_found.html", status_code=404, user=user, what="source")
    out = io.BytesIO()
    qr = segno.make(sources.join_url(_public_url(request), code), error="m")
    if kind == "svg":
        qr.save(out, kind="svg", scale=8, border=4)
    else:
        qr.save(out, kind="png", scale=10, border=4)
    headers = {"Content-Disposition": f'attachment; filename="join-{code}.{kind}"', "Cache-Control": "no-store"}
    return Response(out.getvalue(), media_type=QR_KINDS[kind], headers=headers)
