"""A real HTTP server in the test's process (uvicorn on a free port) that records every request and answers
from a script, for code that calls out over HTTP (the SMS provider, the warehouse webhook): the client's real
transport, headers and retries are exercised, not a mock transport."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn

from devstack.embedded import free_port

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class HttpSink:
    """Answers the n-th request with `answers[n]` (status, JSON body); the last answer repeats."""

    answers: list[tuple[int, Any]]
    received: list[Received] = field(default_factory=list)
    url: str = ""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # lifespan: nothing to start
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {name.decode().lower(): value.decode() for name, value in scope["headers"]}
        self.received.append(Received(scope["method"], scope["path"], headers, body))
        status, payload = self.answers[min(len(self.received), len(self.answers)) - 1]
        content = json.dumps(payload).encode()
        await send(
            {"type": "http.response.start", "status": status, "headers": [(b"content-type", b"application/json")]}
        )
        await send({"type": "http.response.body", "body": content})


@asynccontextmanager
async def http_sink(*answers: tuple[int, Any], path: str = "/hook") -> AsyncIterator[HttpSink]:
    """Serve an HttpSink on 127.0.0.1 until the block ends; `sink.url` is its address plus `path`."""
    sink = HttpSink(list(answers))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(sink, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()  # raises why it could not start
            await asyncio.sleep(0.01)
        sink.url = f"http://127.0.0.1:{port}{path}"
        yield sink
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=10)
