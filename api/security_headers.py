"""Security headers on every answer, and a Content-Security-Policy on the HTML pages (console, portal, unsubscribe):
pages load only what the app serves itself, and no page can be framed (clickjacking).

Pure ASGI: the headers are added to the response start, so no response is read or copied. The console's
scripts are the Vite bundles served from /console/static; its JSON islands are `<script type="application/json">`,
which a policy does not execute. Styles allow inline declarations because progress bars set their width in a
`style` attribute; scripts are never inline. FastAPI's own /docs and /redoc pages load Swagger UI and ReDoc
from their CDN with an inline bootstrap script, so they get the other headers but not the policy."""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
EVERY_ANSWER = (
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "same-origin"),
)
HTML_PAGES = (
    ("content-security-policy", CONTENT_SECURITY_POLICY),
    ("x-frame-options", "DENY"),  # for browsers that predate frame-ancestors
)
API_REFERENCE = ("/docs", "/redoc")


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        reference = scope["path"].startswith(API_REFERENCE)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in EVERY_ANSWER:
                    headers.setdefault(name, value)
                if not reference and headers.get("content-type", "").startswith("text/html"):
                    for name, value in HTML_PAGES:
                        headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)
