"""Shapes shared by several resources."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class ErrorBody(BaseModel):
    code: str
    message: str
    details: Any = None


class ErrorEnvelope(BaseModel):
    error: ErrorBody


_ERROR_TEXTS = {
    400: "Malformed request",
    401: "Missing or invalid API key",
    403: "The key's role may not do this",
    404: "Not found",
    409: "Conflict",
    413: "Body too large",
    422: "Validation failed",
}

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorEnvelope, "description": text} for status, text in _ERROR_TEXTS.items()
}


def json_error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """Error responses for a route whose success is not JSON (an HTML page): FastAPI documents a `model`
    response in the route's own media type, so these name the envelope's JSON schema explicitly (the
    component exists because every API router declares ERROR_RESPONSES)."""
    schema = {"$ref": "#/components/schemas/ErrorEnvelope"}
    return {
        status: {"description": _ERROR_TEXTS[status], "content": {"application/json": {"schema": schema}}}
        for status in statuses
    }
