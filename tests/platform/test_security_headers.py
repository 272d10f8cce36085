"""Security headers: every answer says nosniff and a same-origin referrer policy; the HTML pages (console,
unsubscribe) also carry a Content-Security-Policy that forbids framing and inline or foreign scripts. The
browser tests run every console page under this policy and fail on any violation Chromium reports."""

from __future__ import annotations

import httpx

from api.security_headers import CONTENT_SECURITY_POLICY
from tests.support.helpers import ApiClient


def _policy(response: httpx.Response) -> dict[str, str]:
    directives = (part.strip().split(" ", 1) for part in response.headers["content-security-policy"].split(";"))
    return dict(directives)


async def test_console_pages_forbid_framing_and_foreign_or_inline_scripts(http: httpx.AsyncClient) -> None:
    login = await http.get("/console/login")
    assert login.status_code == 200
    assert login.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    policy = _policy(login)
    assert policy["script-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert policy["object-src"] == "'none'"
    assert policy["form-action"] == "'self'"
    assert login.headers["x-frame-options"] == "DENY"
    assert login.headers["referrer-policy"] == "same-origin"
    assert login.headers["x-content-type-options"] == "nosniff"


async def test_api_answers_and_errors_carry_the_plain_headers_without_a_page_policy(
    http: httpx.AsyncClient, admin: ApiClient
) -> None:
    for response in (
        await admin.get("/api/v1/tiers"),
        await http.get("/api/v1/tiers"),  # 401, in the envelope
        await http.get("/healthz"),
    ):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "same-origin"
        assert "content-security-policy" not in response.headers


async def test_the_api_reference_keeps_working_without_the_page_policy(http: httpx.AsyncClient) -> None:
    """Swagger UI loads from its CDN with an inline bootstrap script, which the policy would block."""
    docs = await http.get("/docs")
    assert docs.status_code == 200
    assert docs.headers["content-type"].startswith("text/html")
    assert "content-security-policy" not in docs.headers
    assert docs.headers["x-content-type-options"] == "nosniff"
