"""CORS for the codec endpoint, and for nothing else: the Temporal UI's page (one configured origin) may call
/codec/* and /console/codec/* from the browser; no other origin may, and no other path answers CORS at all.

A preflight (OPTIONS) is answered here, before routing and without credentials, as browsers send it. A request
that carries an Origin other than the UI's is refused outright, so a page elsewhere cannot even make the
endpoint do work on its behalf (the response would be unreadable to it anyway)."""

from __future__ import annotations

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import envelope

CODEC_PATHS = ("/codec/", "/console/codec/")
ALLOWED_METHODS = "POST, OPTIONS"
# What the UI sends: its JSON body, the namespace, and (with TEMPORAL_CODEC_PASS_ACCESS_TOKEN) a bearer token.
ALLOWED_HEADERS = "authorization, content-type, x-namespace"
PREFLIGHT_MAX_AGE = "600"


class CodecCors:
    def __init__(self, app: ASGIApp, origin: str) -> None:
        self.app = app
        self.origin = origin

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(CODEC_PATHS):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        if origin is None:  # not a browser (the temporal CLI, curl): CORS does not apply, nor is OPTIONS a preflight
            await self.app(scope, receive, send)
            return
        if scope["method"] == "OPTIONS":
            preflight = self._preflight(origin, headers.get("access-control-request-method"))
            await preflight(scope, receive, send)
            return
        if origin != self.origin:
            refused = envelope(403, "origin_not_allowed", f"the codec endpoint does not serve pages of {origin}")
            await refused(scope, receive, send)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                self._allow(MutableHeaders(scope=message))
            await send(message)

        await self.app(scope, receive, send_with_cors)

    def _preflight(self, origin: str | None, method: str | None) -> Response:
        if origin != self.origin or (method or "").upper() != "POST":
            message = "only the configured Temporal UI may call the codec endpoint, by POST"
            return envelope(403, "origin_not_allowed", message)
        response = Response(status_code=204)
        self._allow(response.headers)
        response.headers["access-control-allow-methods"] = ALLOWED_METHODS
        response.headers["access-control-allow-headers"] = ALLOWED_HEADERS
        response.headers["access-control-max-age"] = PREFLIGHT_MAX_AGE
        return response

    def _allow(self, headers: MutableHeaders) -> None:
        headers["access-control-allow-origin"] = self.origin
        # The UI's "include cross-origin credentials" sends the console session cookie (/console/codec).
        headers["access-control-allow-credentials"] = "true"
        headers.add_vary_header("Origin")
