"""Shapes shared by several resources."""

from __future__ import annotations

import base64
import binascii
import uuid
from typing import Any

from pydantic import BaseModel

from core.errors import InvalidInput


class ErrorBody(BaseModel):
    code: str
    message: str
    details: Any = None


class ErrorEnvelope(BaseModel):
    error: ErrorBody


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorEnvelope, "description": text}
    for status, text in {
        400: "Malformed request",
        401: "Missing or invalid API key",
        403: "The key's role may not do this",
        404: "Not found",
        409: "Conflict",
        413: "Body too large",
        422: "Validation failed",
    }.items()
}


def encode_cursor(last_id: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(last_id.bytes).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> uuid.UUID | None:
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        return uuid.UUID(bytes=raw)
    except (binascii.Error, ValueError) as exc:
        raise InvalidInput(
            "cursor is not one this API returned",
            code="invalid_cursor",
            details=[{"field": "query.cursor", "message": "invalid cursor"}],
        ) from exc


def encode_int_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(str(last_id).encode()).decode().rstrip("=")


def decode_int_cursor(cursor: str | None) -> int | None:
    if not cursor:
        return None
    try:
        value = int(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode())
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput(
            "cursor is not one this API returned",
            code="invalid_cursor",
            details=[{"field": "query.cursor", "message": "invalid cursor"}],
        ) from exc
    if value <= 0:
        raise InvalidInput(
            "cursor is not one this API returned",
            code="invalid_cursor",
            details=[{"field": "query.cursor", "message": "invalid cursor"}],
        )
    return value
