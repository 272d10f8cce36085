"""One error envelope for every failure: {"error": {"code", "message", "details"}}."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from core.errors import AppError, TooManyRequests, problem_message

log = logging.getLogger("memberflow.api")

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    503: "service_unavailable",
}


def envelope(
    status: int, code: str, message: str, details: Any = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        status_code=status,
        content={"error": {"code": code, "message": message, "details": details}},
        headers=headers,
    )


def _field(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc)


async def _app_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
    if isinstance(exc, TooManyRequests):
        headers = {"Retry-After": str(exc.retry_after)}
    return envelope(exc.status_code, exc.code, exc.message, exc.details, headers)


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    if any(err.get("type") == "json_invalid" for err in errors):
        return envelope(
            400,
            "malformed_json",
            "the request body is not valid JSON",
            [
                {"field": _field(err["loc"]), "message": err.get("ctx", {}).get("error", err["msg"])}
                for err in errors
                if err.get("type") == "json_invalid"
            ],
        )
    details = [{"field": _field(err["loc"]), "message": problem_message(err), "type": err["type"]} for err in errors]
    fields = ", ".join(d["field"] for d in details[:5])
    return envelope(422, "validation_error", f"the request is invalid: {fields}", details)


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
    return envelope(exc.status_code, code, message, None, dict(exc.headers) if exc.headers else None)


# SQLSTATEs of a server that is going away or not there yet: connection exceptions (class 08), and shutdown
# or start-up in progress (57P01 admin shutdown, 57P02 crash shutdown, 57P03 cannot connect now).
_UNAVAILABLE_SQLSTATES = ("08", "57P01", "57P02", "57P03")
_DRIVER_MODULES = ("asyncpg", "sqlalchemy")


def _database_unavailable(request: Request, cause: object) -> JSONResponse:
    """The request changed nothing (its transaction never committed): the client retries it, with the same
    Idempotency-Key if it sent one."""
    log.warning("database unavailable on %s %s: %s", request.method, request.url.path, cause)
    return envelope(
        503,
        "database_unavailable",
        "the database is unavailable; retry the request shortly",
        headers={"Retry-After": "1"},
    )


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DBAPIError)
    sqlstate = str(getattr(exc.orig, "sqlstate", "") or "")
    if isinstance(exc, DataError) or sqlstate.startswith("22"):
        # A value the database cannot hold (a number out of range, ...) that validation let through.
        log.warning("database refused a value on %s %s: %s", request.method, request.url.path, exc.orig)
        return envelope(400, "invalid_value", "a value in the request is out of the range the service accepts")
    if exc.connection_invalidated or isinstance(exc.orig, OSError) or sqlstate.startswith(_UNAVAILABLE_SQLSTATES):
        return _database_unavailable(request, exc.orig)
    return await _unexpected(request, exc)


def _raised_by_database_driver(exc: BaseException) -> bool:
    """Whether asyncpg or SQLAlchemy is on the traceback: a refused or reset connection
    while opening a database connection reaches us as a bare OSError, not wrapped in a DBAPIError."""
    frame, found = exc.__traceback__, False
    while frame is not None:
        found = found or str(frame.tb_frame.f_globals.get("__name__", "")).startswith(_DRIVER_MODULES)
        frame = frame.tb_next
    return found


async def _os_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, OSError)
    if _raised_by_database_driver(exc):
        return _database_unavailable(request, exc)
    return await _unexpected(request, exc)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return envelope(500, "internal_error", "an unexpected error occurred; it has been logged")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(DBAPIError, _database_error)
    app.add_exception_handler(OSError, _os_error)
    app.add_exception_handler(Exception, _unexpected)
