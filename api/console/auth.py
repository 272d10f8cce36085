"""Console sign-in with an API key: a signed, HttpOnly, SameSite=Strict session cookie and CSRF tokens.

The cookie holds the key's id, an expiry and a random nonce, signed with HMAC-SHA256 under a key derived from
settings.secret_key; never the API key itself. Every request re-reads the key row, so revoking the API key
ends its console sessions at once. The CSRF token of a session is an HMAC of its nonce, sent in a hidden field
of every form and checked on every POST (the login form, before a session exists, uses a double-submit cookie).
"""

from __future__ import annotations

import hmac
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.auth_guard import client_source, guard_of
from api.console import signing
from api.console.render import FormError, flash_to, read_form, render
from api.deps import SessionDep
from api.errors import envelope
from core.errors import Unauthorized
from core.settings import Settings
from models import ApiKey
from services.platform import api_keys
from services.platform.api_keys import Role, is_expired
from services.platform.audit import Actor, Via
from services.privacy.masking import View

COOKIE = "mf_console"
LOGIN_COOKIE = "mf_console_login"
SESSION_SECONDS = 12 * 3600

# Which console pages each role sees (admin sees everything).
PAGES: dict[str, tuple[str, ...]] = {
    Role.MARKETER.value: (
        "dashboard",
        "members",
        "campaigns",
        "segments",
        "journeys",
        "rules",
        "surveys",
        "challenges",
        "messages",
        "imports",
        "sources",
        "referrals",
        "tiers",
    ),
    Role.APPROVER.value: ("inbox", "members"),
    Role.OPS.value: ("dashboard", "members", "messages", "tasks", "tickets"),
}
ALL_PAGES = (
    "dashboard",
    "members",
    "inbox",
    "campaigns",
    "segments",
    "journeys",
    "rules",
    "surveys",
    "challenges",
    "messages",
    "tasks",
    "tickets",
    "fields",
    "plans",
    "imports",
    "sources",
    "checkout",
    "referrals",
    "tiers",
    "keys",
)
NAV = (
    ("dashboard", "Dashboard", "/console"),
    ("inbox", "Inbox", "/console/inbox"),
    ("members", "Members", "/console/members"),
    ("campaigns", "Campaigns", "/console/campaigns"),
    ("segments", "Segments", "/console/segments"),
    ("journeys", "Journeys", "/console/journeys"),
    ("rules", "Rules", "/console/rules"),
    ("surveys", "Surveys", "/console/surveys"),
    ("challenges", "Challenges", "/console/challenges"),
    ("messages", "Messages", "/console/messages"),
    ("tasks", "Tasks", "/console/tasks"),
    ("tickets", "Tickets", "/console/tickets"),
    ("fields", "Fields", "/console/fields"),
    ("plans", "Plans", "/console/plans"),
    ("imports", "Imports", "/console/imports"),
    ("sources", "Sources", "/console/sources"),
    ("checkout", "Checkout", "/console/checkout"),
    ("referrals", "Referrals", "/console/referrals"),
    ("tiers", "Tiers", "/console/tiers"),
    ("keys", "API keys", "/console/keys"),
)


def pages_for(role: str) -> tuple[str, ...]:
    return ALL_PAGES if role == Role.ADMIN.value else PAGES.get(role, ())


def home_for(role: str) -> str:
    pages = pages_for(role)
    for page, _, href in NAV:
        if page in pages:
            return href
    return "/console/login"


def _mac(settings: Settings, message: str) -> str:
    return signing.mac(settings, message)


def issue_cookie(settings: Settings, key_id: uuid.UUID, *, now: float | None = None) -> str:
    expires = int((now or time.time()) + SESSION_SECONDS)
    payload = f"v1.{key_id.hex}.{expires}.{secrets.token_urlsafe(16)}"
    return f"{payload}.{_mac(settings, payload)}"


@dataclass(frozen=True)
class SessionToken:
    key_id: uuid.UUID
    nonce: str


def read_cookie(settings: Settings, value: str | None, *, now: float | None = None) -> SessionToken | None:
    if not value or len(value) > 300:
        return None
    payload, _, signature = value.rpartition(".")
    if not hmac.compare_digest(signature, _mac(settings, payload)):
        return None
    parts = payload.split(".")
    if len(parts) != 4 or parts[0] != "v1":
        return None
    try:
        key_id, expires = uuid.UUID(hex=parts[1]), int(parts[2])
    except ValueError:
        return None
    if expires < (now or time.time()):
        return None
    return SessionToken(key_id, parts[3])


def csrf_for(settings: Settings, nonce: str) -> str:
    return _mac(settings, f"csrf.{nonce}")


@dataclass(frozen=True)
class ConsoleUser:
    # Copies of the key row's values, which stay readable after a route rolls its session back (the row's
    # attributes expire then).
    key_id: uuid.UUID
    name: str
    role: str
    csrf: str
    # The key may reveal unmasked personal data (services.privacy.masking); the session inherits it.
    personal_data: bool = False

    @property
    def actor(self) -> Actor:
        """The signed-in key, acting through the console: what audit rows record."""
        return Actor(name=self.name, key_id=self.key_id, via=Via.CONSOLE, role=self.role)

    @property
    def masked_view(self) -> View:
        """How this session sees personal data on pages without a Reveal: its key's role's masks."""
        return View(Role(self.role))

    @property
    def pages(self) -> tuple[str, ...]:
        return pages_for(self.role)

    @property
    def nav(self) -> list[tuple[str, str, str]]:
        return [item for item in NAV if item[0] in self.pages]


class LoginRequired(Exception):
    """No valid session: the handler redirects to the login page."""

    def __init__(self, next_url: str) -> None:
        self.next_url = next_url


class WrongRole(Exception):
    """Signed in, but this key's role does not see the page: a 403 page."""

    def __init__(self, user: ConsoleUser, page: str) -> None:
        self.user, self.page = user, page


class CsrfRejected(Exception):
    """A POST without the session's CSRF token (or a form the console cannot read): a 403 page."""

    def __init__(self, user: ConsoleUser | None, reason: str) -> None:
        self.user, self.reason = user, reason


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def current_user(request: Request, session: SessionDep) -> ConsoleUser:
    settings = _settings(request)
    token = read_cookie(settings, request.cookies.get(COOKIE))
    key = None
    if token is not None:
        key = await session.get(ApiKey, token.key_id)
    if token is None or key is None or key.revoked_at is not None or not pages_for(key.role) or is_expired(key):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(target)
    api_keys.USES.note(key.id, datetime.now(UTC))
    return ConsoleUser(key.id, key.name, key.role, csrf_for(settings, token.nonce), key.personal_data)


def require(page: str) -> Any:
    async def check(user: Annotated[ConsoleUser, Depends(current_user)]) -> ConsoleUser:
        if page not in user.pages:
            raise WrongRole(user, page)
        return user

    return Depends(check)


async def checked_form(request: Request, user: ConsoleUser, *, max_fields: int = 50) -> dict[str, str]:
    """The posted form, after checking its CSRF token against the session's."""
    try:
        form = await read_form(request, max_fields=max_fields)
    except FormError as exc:
        raise CsrfRejected(user, str(exc)) from exc
    if not hmac.compare_digest(form.get("csrf_token", ""), user.csrf):
        raise CsrfRejected(user, "the form's security token is missing or out of date")
    return form


def _safe_next(value: str | None) -> str | None:
    # Only paths inside the console: never an absolute URL or a scheme-relative one (open redirect).
    if value and value.startswith("/console") and not value.startswith("//") and "\\" not in value:
        return value
    return None


def _set_cookie(response: Response, request: Request, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/console",
    )


router = APIRouter()


def _login_page(request: Request, *, error: str | None, next_url: str | None, status_code: int = 200) -> Response:
    token = secrets.token_urlsafe(24)
    response = render(
        request, "login.html", status_code=status_code, error=error, next_url=next_url or "", login_token=token
    )
    _set_cookie(response, request, LOGIN_COOKIE, token, 3600)
    return response


_LOGIN_ERRORS = {
    "invalid_api_key": "That API key is not valid or was revoked.",
    "api_key_expired": "That API key has expired; ask an admin for a new one.",
}


def _too_many_failures(request: Request, retry: int, next_url: str | None) -> Response:
    minutes = max(1, -(-retry // 60))
    error = (
        "Too many failed sign-ins from your network address. "
        f"Try again in {minutes} minute{'s' if minutes != 1 else ''}."
    )
    response = _login_page(request, error=error, next_url=next_url, status_code=429)
    response.headers["Retry-After"] = str(retry)
    return response


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request) -> Response:
    return _login_page(request, error=None, next_url=_safe_next(request.query_params.get("next")))


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request, session: SessionDep) -> Response:
    try:
        form = await read_form(request)
    except FormError as exc:
        return _login_page(request, error=str(exc), next_url=None, status_code=400)
    next_url = _safe_next(form.get("next"))
    expected = request.cookies.get(LOGIN_COOKIE, "")
    if not expected or not hmac.compare_digest(form.get("login_token", ""), expected):
        return _login_page(
            request, error="The sign-in form expired; please try again.", next_url=next_url, status_code=403
        )
    guard, source = guard_of(request), client_source(request)
    if (retry := guard.retry_after(source)) is not None:
        return _too_many_failures(request, retry, next_url)
    started = time.monotonic()
    secret = form.get("api_key", "").strip()
    if not secret:
        await guard.failed(source, started, counted=False)
        return _login_page(request, error="Enter your API key.", next_url=next_url, status_code=422)
    try:
        key = await api_keys.authenticate(session, secret)
    except Unauthorized as exc:
        await guard.failed(source, started)
        error = _LOGIN_ERRORS.get(exc.code, _LOGIN_ERRORS["invalid_api_key"])
        return _login_page(request, error=error, next_url=next_url, status_code=401)
    if not pages_for(key.role):
        return _login_page(
            request,
            error=f"Keys with the {key.role} role cannot use the console.",
            next_url=next_url,
            status_code=403,
        )
    response = RedirectResponse(next_url or home_for(key.role), status_code=303)
    _set_cookie(response, request, COOKIE, issue_cookie(_settings(request), key.id), SESSION_SECONDS)
    response.delete_cookie(LOGIN_COOKIE, path="/console")
    return response


@router.post("/logout")
async def logout(request: Request, user: Annotated[ConsoleUser, Depends(current_user)]) -> Response:
    await checked_form(request, user)
    response = RedirectResponse(flash_to(request, "/console/login", "Signed out."), status_code=303)
    response.delete_cookie(COOKIE, path="/console")
    return response


JSON_PREFIX = "/console/api/"


def wants_json(request: Request) -> bool:
    """The console's JSON calls (the builders') get the error envelope where pages get a redirect or a page."""
    return request.url.path.startswith(JSON_PREFIX)


async def on_login_required(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoginRequired)
    if wants_json(request):
        return envelope(401, "unauthorized", "sign in to the console again: the session is missing or expired")
    return RedirectResponse(f"/console/login?next={quote(exc.next_url, safe='/')}", status_code=303)


async def on_wrong_role(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, WrongRole)
    if wants_json(request):
        return envelope(403, "forbidden", f"the {exc.user.role} role does not use the {exc.page} page")
    return render(request, "forbidden.html", status_code=403, user=exc.user, page=exc.page, reason=None)


async def on_csrf(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, CsrfRejected)
    return render(request, "forbidden.html", status_code=403, user=exc.user, page=None, reason=exc.reason)
