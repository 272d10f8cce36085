"""Every change by a person is in the audit log exactly once: each state-changing route of the app (read from
`app.routes`) has a recipe that makes one real change as a person of an allowed role, through the API or the
console, and exactly one entry appears with that person's key, name and channel, the action and the target.
Routes that are not a person's change are exempt with their reason (tests/support/audit_exempt.py); a route
with neither fails the first test, by name. A refused change writes nothing, and a retried one (the same
Idempotency-Key) is written once.

The app runs in-process on a database of its own (the recipes create journeys, rules, fields and tiers that
would otherwise reach other tests), with the real workers on the shared Temporal dev server for the approval
workflow."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from temporalio.testing import WorkflowEnvironment

import tests.support.audit_recipes_api
import tests.support.audit_recipes_console  # noqa: F401 - registers the console recipes
from api.app import create_app
from core.settings import Settings
from devstack.embedded import EmbeddedPostgres
from services.platform import api_keys
from services.platform.api_keys import Role
from tests.support.audit_exempt import EXEMPT
from tests.support.audit_trail import MUTATING, RECIPES, Person, Recipe, Stage, path_pattern
from tests.support.brand import scratch_database
from tests.support.helpers import ApiClient
from tests.support.temporal import started_workers

assert tests.support.audit_recipes_api  # the API recipes register on import


def mutating_routes(app: FastAPI) -> dict[str, str]:
    """Every "METHOD /path" of the app that can change state, with the path as declared."""
    found: dict[str, str] = {}
    for route in iter_route_contexts(app.routes):
        for method in sorted(set(route.methods or ()) & set(MUTATING)):
            found[f"{method} {route.path}"] = str(route.path)
    return found


ROUTES = mutating_routes(create_app(Settings()))


@pytest_asyncio.fixture(scope="module")
async def stage(
    postgres: EmbeddedPostgres, base_settings: Settings, temporal_dev: WorkflowEnvironment
) -> AsyncIterator[Stage]:
    scratch = await scratch_database(postgres, "audit")
    temporal = base_settings.temporal.model_copy(update={"task_queue": f"tq-audit-{uuid.uuid4()}"})
    settings = base_settings.model_copy(update={"database_url": scratch.url, "temporal": temporal})
    app = create_app(settings, engine=scratch.engine, temporal_client=temporal_dev.client)
    try:
        async with app.router.lifespan_context(app), started_workers(temporal_dev.client, scratch.sessions, settings):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://memberflow.test") as http:
                keys = {}
                for role in (Role.ADMIN, Role.INTEGRATION):
                    async with scratch.sessions() as session:
                        keys[role] = (await api_keys.create(session, name=f"setup-{role.value}", role=role)).secret
                        await session.commit()
                yield Stage(
                    app,
                    http,
                    scratch.sessions,
                    temporal_dev.client,
                    settings,
                    admin=ApiClient(http, keys[Role.ADMIN]),
                    shop=ApiClient(http, keys[Role.INTEGRATION]),
                )
    finally:
        await scratch.engine.dispose()


def test_every_state_changing_route_has_a_recipe_or_an_exemption() -> None:
    missing = sorted(set(ROUTES) - set(RECIPES) - set(EXEMPT))
    assert not missing, f"state-changing routes with neither an audit recipe nor an exemption: {missing}"
    assert not set(RECIPES) & set(EXEMPT), "a route is both audited and exempt"
    stale = sorted((set(RECIPES) | set(EXEMPT)) - set(ROUTES))
    assert not stale, f"recipes or exemptions for routes the app no longer has: {stale}"


def _accepts_idempotency_key(app: FastAPI, route: str) -> bool:
    method, path = route.split(" ", 1)
    operation = app.openapi()["paths"].get(path, {}).get(method.lower(), {})
    return any(p["in"] == "header" and p["name"] == "Idempotency-Key" for p in operation.get("parameters", []))


async def _acted(stage: Stage, recipe: Recipe, role: Role) -> tuple[Person, Any]:
    person = await stage.person(role, recipe.via)
    try:
        expected = await recipe.run(stage, person)
    finally:
        if person.client is not stage.http:
            await person.client.aclose()
    assert len(person.sent) == 1, f"a recipe makes its change with exactly one person.act, not {len(person.sent)}"
    sent = person.sent[0]
    assert sent.method == recipe.route.split(" ", 1)[0]
    assert path_pattern(ROUTES[recipe.route]).match(httpx.URL(sent.url).path), f"{sent.url} is not {recipe.route}"
    return person, expected


@pytest.mark.parametrize("route", sorted(RECIPES))
async def test_a_persons_change_is_audited_exactly_once(stage: Stage, route: str) -> None:
    recipe = RECIPES[route]
    person, expected = await _acted(stage, recipe, recipe.role)
    entries = await stage.entries_by(person.key_id)
    assert [(e.action, e.target_type, e.target_id) for e in entries] == [
        (expected.action, expected.target_type, expected.target_id)
    ], f"{route} as {recipe.role.value} via {recipe.via}"
    assert entries[0].actor == person.name
    assert entries[0].details["via"] == recipe.via
    if recipe.via == "api" and _accepts_idempotency_key(stage.app, route):
        first = person.sent[0].response
        again = await person.replay()
        assert (again.status_code, again.json()) == (first.status_code, first.json()), again.text
        assert len(await stage.entries_by(person.key_id)) == 1, f"{route} retried with its Idempotency-Key"


@pytest.mark.parametrize("route", sorted(r for r, recipe in RECIPES.items() if recipe.shop_silent))
async def test_the_shops_own_calls_to_a_shared_route_write_no_entry(stage: Stage, route: str) -> None:
    person, _ = await _acted(stage, RECIPES[route], Role.INTEGRATION)
    assert await stage.entries_by(person.key_id) == []
