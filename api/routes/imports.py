"""Bulk history imports: create one, upload its files (CSV or JSONL, raw request bodies), start it, watch its
progress and download its bad rows as CSV. The import itself runs in the worker (BulkImportWorkflow)."""

from __future__ import annotations

import csv
import io
import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from api.boundary import commit
from api.deps import SessionDep, SettingsDep, WriterKey
from api.schemas.common import ERROR_RESPONSES
from api.schemas.imports import ImportCreate, ImportFileOut, ImportOut
from core.errors import InvalidInput
from services import imports
from services.imports import Format, Kind
from services.platform.audit import Actor

router = APIRouter(prefix="/api/v1/imports", tags=["imports"], responses=ERROR_RESPONSES)
_TYPES = {"text/csv": Format.CSV, "application/x-ndjson": Format.JSONL, "application/jsonl": Format.JSONL}


@router.post("", status_code=201, response_model=ImportOut, summary="Create a bulk history import (open for files)")
async def create_import(session: SessionDep, key: WriterKey, body: ImportCreate | None = None) -> ImportOut:
    created = await imports.create(session, actor=Actor.of_key(key), chunk_rows=(body or ImportCreate()).chunk_rows)
    await commit(session)
    return ImportOut.of(await imports.progress(session, created.id))


def _format(request: Request, given: Format | None) -> Format:
    if given is not None:
        return given
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type in _TYPES:
        return _TYPES[content_type]
    raise InvalidInput(
        "say the file's format: ?format=csv or ?format=jsonl, or Content-Type text/csv or application/x-ndjson",
        code="validation_error",
        details=[{"field": "query.format", "message": "csv or jsonl"}],
    )


@router.post(
    "/{import_id}/files",
    status_code=201,
    response_model=ImportFileOut,
    summary="Upload a file of members, orders or events into an open import (the body is the file)",
)
async def upload_file(
    request: Request,
    import_id: uuid.UUID,
    session: SessionDep,
    key: WriterKey,
    kind: Kind,
    format: Format | None = None,  # noqa: A002 - the query parameter's name
    name: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
) -> ImportFileOut:
    fmt = _format(request, format)
    stored = await imports.add_file(
        session,
        import_id,
        kind=kind,
        fmt=fmt,
        name=name or f"{kind.value}.{fmt.value}",
        data=await request.body(),
        actor=Actor.of_key(key),
    )
    out = ImportFileOut.model_validate(stored)
    await commit(session)
    return out


@router.post("/{import_id}/start", status_code=202, response_model=ImportOut, summary="Start an import")
async def start_import(import_id: uuid.UUID, session: SessionDep, key: WriterKey, settings: SettingsDep) -> ImportOut:
    await imports.start(session, import_id, task_queue=settings.temporal.task_queue, actor=Actor.of_key(key))
    await commit(session)
    return ImportOut.of(await imports.progress(session, import_id))


@router.get("", response_model=list[ImportOut], summary="Recent imports, newest first")
async def list_imports(session: SessionDep, _: WriterKey) -> list[ImportOut]:
    return [ImportOut.of(progress) for progress in await imports.recent(session)]


@router.get("/{import_id}", response_model=ImportOut, summary="An import's state and counts")
async def get_import(import_id: uuid.UUID, session: SessionDep, _: WriterKey) -> ImportOut:
    return ImportOut.of(await imports.progress(session, import_id))


ERROR_COLUMNS = ("file", "kind", "line", "field", "reason")


async def error_csv(session: SessionDep, import_id: uuid.UUID) -> Response:
    """The bad rows as CSV (file, kind, line, field, reason); also served to the console. Built before the
    response starts, so a missing import is a 404 and the session is not used after the request."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(ERROR_COLUMNS)
    async for name, kind, error in imports.error_rows(session, import_id):
        writer.writerow((name, kind, error["line"], error["field"], error["reason"]))
    disposition = f'attachment; filename="import-{import_id}-errors.csv"'
    return Response(buffer.getvalue(), media_type="text/csv", headers={"Content-Disposition": disposition})


@router.get(
    "/{import_id}/errors",
    summary="The bad rows as CSV: file, kind, line, field, reason",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}},
)
async def get_errors(import_id: uuid.UUID, session: SessionDep, _: WriterKey) -> Response:
    return await error_csv(session, import_id)
