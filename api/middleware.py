"""ASGI middleware: request body size limit and Prometheus request metrics."""

from __future__ import annotations

import json
import time

from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUESTS = Counter("memberflow_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram(
    "memberflow_http_request_duration_seconds",
    "HTTP request latency",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)


async def _reject(send: Send, status: int, code: str, message: str) -> None:
    body = json.dumps({"error": {"code": code, "message": message, "details": None}}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BodySizeLimit:
    """Refuse bodies above `max_bytes` with 413 before the app parses them (declared or streamed)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (b"%00" in scope.get("query_string", b"") or "\x00" in scope["path"]):
            await _reject(send, 422, "validation_error", "the URL may not contain NUL characters")
            return
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE"):
            await self.app(scope, receive, send)
            return
        message = f"request body larger than {self.max_bytes} bytes"
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            try:
                too_large = int(declared) > self.max_bytes
            except ValueError:
                await _reject(send, 400, "bad_request", "invalid Content-Length header")
                return
            if too_large:
                await _reject(send, 413, "payload_too_large", message)
                return
        # Buffer the (bounded) body so a streamed request cannot exceed the limit either.
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            msg = await receive()
            if msg["type"] == "http.disconnect":
                return
            chunk = msg.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await _reject(send, 413, "payload_too_large", message)
                return
            chunks.append(chunk)
            more = msg.get("more_body", False)
        body = b"".join(chunks)
        if b"\\u0000" in body:
            # PostgreSQL text cannot hold NUL; refuse it here rather than fail deep in a query.
            await _reject(send, 422, "validation_error", "text in the request may not contain NUL characters")
            return
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


_SERIES_LIMIT = 4096


class Metrics:
    """Count and time requests by route template (not raw path, so ids do not explode the label set).

    The labelled series are kept in a dict: `labels()` validates and locks on every call, which cost as
    much as the rest of the middleware on the hot reads. Method names come from clients, so the dict is
    bounded; past the bound a series is looked up through `labels()` as before."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._series: dict[tuple[str, str, str], tuple[Counter, Histogram]] = {}

    def _series_for(self, method: str, template: str, status: str) -> tuple[Counter, Histogram]:
        key = (method, template, status)
        series = self._series.get(key)
        if series is None:
            series = (REQUESTS.labels(method, template, status), LATENCY.labels(method, template))
            if len(self._series) < _SERIES_LIMIT:
                self._series[key] = series
        return series

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def observe(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, observe)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            count, latency = self._series_for(scope["method"], template, str(status))
            count.inc()
            latency.observe(time.perf_counter() - start)
