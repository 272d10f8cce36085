"""The role matrix's callers and judge (tests/platform/test_role_matrix.py): the routes the app really serves,
one caller per role (plus none and a revoked key) holding an API key and a console session of that key, the
request each sends to a route, and whether the answer is what the route's rule promises that caller.

A request fills the path with fresh uuids or valid-looking values and sends a minimal body (`{}`, or a console
form with only its CSRF token), so an allowed caller meets a 404 or 422 and nothing is written; a refused one
must be refused before any of that is looked at."""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from starlette.routing import Mount

from api.console import auth
from core.settings import Settings
from services.platform import api_keys
from services.platform.api_keys import Role
from tests.platform.role_matrix import Access, Door

NO_CREDENTIALS = "no credentials"
REVOKED_KEY = "revoked key"
CALLERS: tuple[str, ...] = (*(role.value for role in Role), NO_CREDENTIALS, REVOKED_KEY)
CONSOLE_ROLES = frozenset(role for role in Role if auth.pages_for(role.value))
LOGIN_TOKEN = "role-matrix-login-token"
_PARAM = re.compile(r"{([^}:]+)(?::[^}]+)?}")
_LOGIN_REDIRECT = "/console/login?next="
_FORBIDDEN_PAGE = "does not open the"  # the wording of forbidden.html for a role without the page
_PORTAL_SIGN_IN = "/portal/sign-in"

# Path parameters that must look valid to reach the route (e.g. an int id); every other one gets a fresh value.
_PARAMS = {"row_id": lambda: str(secrets.randbelow(2**62) + 1), "version": lambda: "1", "path": lambda: "none.css"}


def served_routes(app: FastAPI) -> set[str]:
    """Every 'METHOD /path/template' the app answers, with the routers it includes and its mounts."""
    routes: set[str] = set()
    for route in iter_route_contexts(app.router.routes):
        if isinstance(route.original_route, Mount):
            routes.add(f"GET {route.path}/{{path}}")
            continue
        routes.update(f"{method} {route.path}" for method in route.methods or () if method != "HEAD")
    return routes


@dataclass(frozen=True)
class Caller:
    """One column of the matrix: its role (None for no credentials), API key and console session."""

    name: str
    role: Role | None
    secret: str | None = None
    cookie: str | None = None
    csrf: str = ""

    @property
    def revoked(self) -> bool:
        return self.name == REVOKED_KEY


async def make_callers(app: FastAPI, settings: Settings) -> dict[str, Caller]:
    """A key of every role and one revoked marketer key, each with a console session cookie of its own."""
    callers = {NO_CREDENTIALS: Caller(NO_CREDENTIALS, None)}
    async with app.state.sessions() as session:
        for name in (*(role.value for role in Role), REVOKED_KEY):
            role = Role.MARKETER if name == REVOKED_KEY else Role(name)
            issued = await api_keys.create(session, name=f"role-matrix-{name}", role=role)
            if name == REVOKED_KEY:
                await api_keys.revoke(session, issued.key.id)
            cookie = auth.issue_cookie(settings, issued.key.id)
            token = auth.read_cookie(settings, cookie)
            assert token is not None
            callers[name] = Caller(name, role, issued.secret, cookie, auth.csrf_for(settings, token.nonce))
        await session.commit()
    return callers


def _value(name: str) -> str:
    """Ids get fresh uuids, so that a route that parses them finds nothing rather than failing validation."""
    if name in _PARAMS:
        return _PARAMS[name]()
    return str(uuid.uuid4()) if name.endswith("_id") else f"matrix_{uuid.uuid4().hex[:12]}"


def _path(template: str) -> str:
    return _PARAM.sub(lambda match: _value(match.group(1)), template)


def build_request(client: httpx.AsyncClient, method: str, template: str, access: Access, caller: Caller) -> Any:
    """The request `caller` sends to the route: only the credential the route's door takes (so a console page
    cannot pass on a bearer key, nor an API route on a session), and a minimal body."""
    headers: dict[str, str] = {}
    cookies = [f"{auth.LOGIN_COOKIE}={LOGIN_TOKEN}"]
    if caller.secret is not None and access.door in (Door.API_KEY, Door.PUBLIC):
        headers["Authorization"] = f"Bearer {caller.secret}"
    if caller.cookie is not None and access.door is not Door.API_KEY:
        cookies.append(f"{auth.COOKIE}={caller.cookie}")
        headers["X-CSRF-Token"] = caller.csrf
    headers["Cookie"] = "; ".join(cookies)
    url = _path(template)
    if method == "GET":
        return client.build_request(method, url, headers=headers)
    if access.door is Door.CONSOLE_PAGE or template in ("/console/login", "/console/logout"):
        form = {"csrf_token": caller.csrf, "login_token": LOGIN_TOKEN}
        return client.build_request(method, url, headers=headers, data=form)
    return client.build_request(method, url, headers=headers, json={})


def _is_envelope(answer: httpx.Response) -> bool:
    if not answer.headers.get("content-type", "").startswith("application/json"):
        return False
    try:
        body = answer.json()
    except ValueError:
        return False
    error = body.get("error") if isinstance(body, dict) and set(body) == {"error"} else None
    return isinstance(error, dict) and bool(error.get("code")) and bool(error.get("message")) and "details" in error


def _code(answer: httpx.Response) -> str | None:
    return str(answer.json()["error"]["code"]) if _is_envelope(answer) else None


def _shown(answer: httpx.Response) -> str:
    location = answer.headers.get("location")
    return f"{answer.status_code}" + (f" -> {location}" if location else "") + f": {answer.text[:200]!r}"


def _allowed(access: Access, answer: httpx.Response) -> Iterator[str]:
    if answer.status_code >= 500:
        yield f"a server error: {_shown(answer)}"
    if answer.status_code in (401, 403):
        yield f"an allowed caller was refused: {_shown(answer)}"
    if answer.headers.get("location", "").startswith(_LOGIN_REDIRECT):
        yield f"an allowed caller was sent to sign in: {_shown(answer)}"
    if access.door in (Door.API_KEY, Door.CONSOLE_JSON) and answer.status_code >= 400 and not _is_envelope(answer):
        yield f"an error outside the envelope: {_shown(answer)}"


def _unauthenticated(access: Access, answer: httpx.Response, *, role: Role | None) -> Iterator[str]:
    if access.door is Door.CONSOLE_PAGE:
        if answer.status_code != 303 or not answer.headers.get("location", "").startswith(_LOGIN_REDIRECT):
            yield f"expected the sign-in redirect (303 {_LOGIN_REDIRECT}…), got {_shown(answer)}"
        return
    # A key whose role has no console cannot sign in; with a session minted for it, the codec's browser door
    # answers 403 insufficient_role where the builders answer 401: both refuse.
    statuses = (401, 403) if access.door is Door.CONSOLE_JSON and role is not None else (401,)
    if answer.status_code not in statuses or not _is_envelope(answer):
        yield f"expected an enveloped 401, got {_shown(answer)}"
    elif access.door is Door.API_KEY and answer.headers.get("www-authenticate") != "Bearer":
        yield f"a 401 without `WWW-Authenticate: Bearer`: {_shown(answer)}"


def _forbidden(access: Access, answer: httpx.Response) -> Iterator[str]:
    if access.door is Door.CONSOLE_PAGE:
        if answer.status_code != 403 or _FORBIDDEN_PAGE not in answer.text:
            yield f"expected the console's 403 page for a role without the page, got {_shown(answer)}"
        return
    codes = ("insufficient_role",) if access.door is Door.API_KEY else ("insufficient_role", "forbidden")
    if answer.status_code != 403 or _code(answer) not in codes:
        yield f"expected 403 {' or '.join(codes)} in the envelope, got {_shown(answer)}"


def _member_only(answer: httpx.Response) -> Iterator[str]:
    """A staff key or console session is no member session: the portal sends the caller to its sign-in."""
    if answer.status_code != 303 or answer.headers.get("location") != _PORTAL_SIGN_IN:
        yield f"expected the portal's sign-in redirect (303 {_PORTAL_SIGN_IN}), got {_shown(answer)}"


def problems(access: Access, caller: Caller, answer: httpx.Response) -> list[str]:
    """What is wrong with `answer` to `caller` under `access`; empty when the app kept the rule."""
    if access.door is Door.PUBLIC:
        return list(_allowed(access, answer))
    if access.door is Door.MEMBER:
        return list(_member_only(answer))
    if caller.role is None or caller.revoked:
        return list(_unauthenticated(access, answer, role=None))
    if access.door is not Door.API_KEY and caller.role not in CONSOLE_ROLES:
        return list(_unauthenticated(access, answer, role=caller.role))
    if access.allows(caller.role):
        return list(_allowed(access, answer))
    return list(_forbidden(access, answer))
