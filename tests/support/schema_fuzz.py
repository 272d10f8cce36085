"""Helpers for the Schemathesis run over the OpenAPI schema (tests/platform/test_schema_fuzz.py): a `requests`
adapter that answers from the ASGI app in-process, and the check that every error is the project's envelope.

Schemathesis calls an API through `requests`; its own ASGI transport runs the app on an event loop in another
thread, where the session's asyncpg pool and Temporal client (bound to the test session's loop) cannot be used.
The adapter below instead runs each request on the test session's loop, which is idle while a synchronous test
runs, so the app under test is exactly the one the other tests use: same engine, same Temporal client."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Mapping
from typing import Any

import httpx
import requests
from requests.adapters import HTTPAdapter
from schemathesis import Case, CheckContext, Response
from urllib3 import HTTPResponse
from urllib3._collections import HTTPHeaderDict

BASE_URL = "http://memberflow.test"


class InProcessAdapter(HTTPAdapter):
    """Sends each prepared request to the ASGI app through httpx's ASGITransport on `loop`."""

    def __init__(self, loop: asyncio.AbstractEventLoop, client: httpx.AsyncClient) -> None:
        super().__init__()
        self._loop = loop
        self._client = client

    def send(
        self, request: requests.PreparedRequest, timeout: float | tuple[float, float] | None = None, **_tls: Any
    ) -> requests.Response:
        body = request.body.encode() if isinstance(request.body, str) else request.body
        call = self._client.request(
            str(request.method), str(request.url), headers=dict(request.headers), content=body or b""
        )
        seconds = sum(timeout) if isinstance(timeout, tuple) else timeout
        try:
            answer = self._loop.run_until_complete(asyncio.wait_for(call, seconds))
        except TimeoutError as exc:
            raise requests.Timeout(f"the app did not answer within {seconds} s", request=request) from exc
        raw = HTTPResponse(
            body=io.BytesIO(answer.content),
            headers=HTTPHeaderDict(answer.headers.multi_items()),
            status=answer.status_code,
            reason=answer.reason_phrase,
            version=11,
            preload_content=False,
            decode_content=False,
        )
        return self.build_response(request, raw)


def in_process_session(loop: asyncio.AbstractEventLoop, client: httpx.AsyncClient) -> requests.Session:
    session = requests.Session()
    session.mount(BASE_URL, InProcessAdapter(loop, client))
    return session


def _is_error_envelope(payload: Any) -> bool:
    if not isinstance(payload, Mapping) or set(payload) != {"error"}:
        return False
    error = payload["error"]
    return (
        isinstance(error, Mapping)
        and isinstance(error.get("code"), str)
        and bool(error["code"])
        and isinstance(error.get("message"), str)
        and bool(error["message"])
        and "details" in error
    )


def error_envelope(ctx: CheckContext, response: Response, case: Case) -> bool | None:
    """Every 4xx and 5xx answer is JSON of the shape {"error": {"code", "message", "details"}} (api.errors)."""
    if response.status_code < 400:
        return None
    content_type = next((v[0] for k, v in response.headers.items() if k.lower() == "content-type" and v), "")
    if not content_type.startswith("application/json"):
        raise AssertionError(f"error {response.status_code} is {content_type or 'untyped'}, not the JSON envelope")
    try:
        payload = response.json()
    except ValueError as exc:
        raise AssertionError(f"error {response.status_code} is not valid JSON: {response.text[:200]!r}") from exc
    if not _is_error_envelope(payload):
        raise AssertionError(f"error {response.status_code} is not the error envelope: {response.text[:300]}")
    return True


def keep_hypothesis_reports() -> None:
    """Schemathesis's pytest plugin, which loads in every session once the package is installed, replaces
    Hypothesis's printer with one that prints nothing (it speeds up Schemathesis's coverage phase), so a failing
    property test anywhere in the suite would report `ops=,` instead of its failing case. This puts Hypothesis's
    own printer back for the whole session; the schema fuzzing costs about a second more for it."""
    import hypothesis.core
    from hypothesis.vendor import pretty

    hypothesis.core.RepresentationPrinter = pretty.RepresentationPrinter  # type: ignore[misc]
