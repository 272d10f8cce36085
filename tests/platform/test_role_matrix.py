"""The role matrix: every route of the app, called as every role, without credentials and with a revoked key,
answers as its rule in tests/platform/role_matrix.py says, and no route is served without a rule.

The app runs in-process (httpx.ASGITransport) on a database of its own, so that an allowed caller's minimal
request can never change what the rest of the suite sees; one set of keys and console sessions serves the
whole module. Each (route, caller) is its own test item, so a failure names both."""

from __future__ import annotations

import functools
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from api.app import create_app
from core.settings import Settings
from devstack.embedded import EmbeddedPostgres
from services.platform.api_keys import Role
from tests.platform import role_matrix
from tests.platform.role_matrix import RULES, split
from tests.support.brand import scratch_database
from tests.support.role_matrix import CALLERS, Caller, build_request, make_callers, problems, served_routes
from tests.support.schema_fuzz import BASE_URL


@pytest_asyncio.fixture(scope="module")
async def matrix_app(postgres: EmbeddedPostgres, base_settings: Settings, temporal_dev: Any) -> AsyncIterator[FastAPI]:
    scratch = await scratch_database(postgres, "rolematrix")
    temporal = base_settings.temporal.model_copy(update={"task_queue": f"tq-rolematrix-{uuid.uuid4()}"})
    settings = base_settings.model_copy(update={"database_url": scratch.url, "temporal": temporal})
    app = create_app(settings, engine=scratch.engine, temporal_client=temporal_dev.client)
    try:
        async with app.router.lifespan_context(app):
            yield app
    finally:
        await scratch.engine.dispose()


@pytest_asyncio.fixture(scope="module")
async def matrix_http(matrix_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=matrix_app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        yield client


@pytest_asyncio.fixture(scope="module")
async def callers(matrix_app: FastAPI) -> dict[str, Caller]:
    return await make_callers(matrix_app, matrix_app.state.settings)


@functools.cache
def _served() -> frozenset[str]:
    """The routes of an app that never starts: the same routing table as a running one, without a database."""
    return frozenset(served_routes(create_app(Settings())))


def test_every_served_route_has_a_rule() -> None:
    missing = sorted(_served() - RULES.keys())
    assert not missing, f"routes without a rule in tests/platform/role_matrix.py: {missing}"


def test_every_rule_names_a_served_route() -> None:
    stale = sorted(RULES.keys() - _served())
    assert not stale, f"rules in tests/platform/role_matrix.py for routes the app no longer serves: {stale}"


@pytest.mark.parametrize("caller_name", CALLERS)
@pytest.mark.parametrize("route", list(RULES))
async def test_route_answers_caller_as_its_rule_says(
    route: str, caller_name: str, matrix_http: httpx.AsyncClient, callers: dict[str, Caller]
) -> None:
    method, template = split(route)
    access = RULES[route]
    answer = await matrix_http.send(build_request(matrix_http, method, template, access, callers[caller_name]))
    assert problems(access, callers[caller_name], answer) == [], f"{route} as {caller_name}"


def test_docs_api_md_shows_the_current_matrix() -> None:
    text = role_matrix.DOCS.read_text(encoding="utf-8")
    assert role_matrix.with_docs_table(text) == text, (
        "docs/api.md's 'Who can call what' table differs from tests/platform/role_matrix.py: "
        "run `.venv/bin/python -m tests.platform.role_matrix`"
    )


def _answer(status: int, body: str = "", **headers: str) -> httpx.Response:
    return httpx.Response(status, text=body, headers=headers)


def _json(status: int, code: str) -> httpx.Response:
    return httpx.Response(status, json={"error": {"code": code, "message": "m", "details": None}})


@pytest.mark.parametrize(
    ("route", "caller", "answer"),
    [
        # a refused role let through, an allowed one refused, an error outside the envelope
        ("GET /api/v1/keys", Caller("marketer", Role.MARKETER), _answer(200, "[]")),
        ("GET /api/v1/audit", Caller("ops", Role.OPS), _json(403, "insufficient_role")),
        ("GET /api/v1/audit", Caller("ops", Role.OPS), _answer(404, "Not Found", **{"content-type": "text/plain"})),
        ("GET /api/v1/keys", Caller("ops", Role.OPS), _json(403, "forbidden")),
        # no credentials must be a 401, a console page must redirect to the sign-in page
        ("GET /api/v1/members", Caller("no credentials", None), _json(403, "insufficient_role")),
        ("GET /api/v1/members", Caller("revoked key", Role.MARKETER), _json(401, "invalid_api_key")),
        ("GET /console/members", Caller("no credentials", None), _answer(303, location="/console")),
        # the CSRF 403 page is not the role's 403 page; a public route never answers 401
        ("GET /console/inbox", Caller("ops", Role.OPS), _answer(403, "the form's security token is missing")),
        ("GET /healthz", Caller("no credentials", None), _json(401, "missing_api_key")),
        ("GET /console/members", Caller("ops", Role.OPS), _answer(500, "boom")),
    ],
)
def test_the_judge_refuses_answers_that_break_the_rule(route: str, caller: Caller, answer: httpx.Response) -> None:
    assert problems(RULES[route], caller, answer), f"{route} as {caller.name}: {answer.status_code} was accepted"
