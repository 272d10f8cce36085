"""Domain error types. Each carries an HTTP status and a stable machine-readable code."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class AppError(Exception):
    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details


class NotFound(AppError):
    status_code = 404
    code = "not_found"


class Conflict(AppError):
    status_code = 409
    code = "conflict"


class InvalidInput(AppError):
    status_code = 422
    code = "validation_error"


class Unauthorized(AppError):
    status_code = 401
    code = "unauthorized"


class Forbidden(AppError):
    status_code = 403
    code = "forbidden"


class PayloadTooLarge(AppError):
    status_code = 413
    code = "payload_too_large"


class ServiceUnavailable(AppError):
    status_code = 503
    code = "service_unavailable"


class TooManyRequests(AppError):
    """Refused for a while; `retry_after` (whole seconds) becomes the Retry-After header."""

    status_code = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int, code: str | None = None, details: Any = None) -> None:
        super().__init__(message, code=code, details=details)
        self.retry_after = retry_after


def problem_message(error: Mapping[str, Any]) -> str:
    """A pydantic error's message as a person reads it: a validator's own words without pydantic's
    "Value error, " in front, so the API's details, the services' problems and the console's forms say it alike."""
    message: str = error["msg"]
    return message.removeprefix("Value error, ")
