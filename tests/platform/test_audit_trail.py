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
from tests.support import audit_setup as setup
from tests.support.audit_exempt import EXEMPT
from tests.support.audit_trail import MUTATING, RECIPES, Person, Recipe, Stage, ok, path_pattern
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
    assert person.acted_at is not None
    assert await stage.keyless_entries_since(person.acted_at) == []
    if recipe.via == "api" and _accepts_idempotency_key(stage.app, route):
        first = person.sent[0].response
        again = await person.replay()
        assert (again.status_code, again.json()) == (first.status_code, first.json()), again.text
        assert len(await stage.entries_by(person.key_id)) == 1, f"{route} retried with its Idempotency-Key"


@pytest.mark.parametrize("route", sorted(r for r, recipe in RECIPES.items() if recipe.shop_silent))
async def test_the_shops_own_calls_to_a_shared_route_write_no_entry(stage: Stage, route: str) -> None:
    person, _ = await _acted(stage, RECIPES[route], Role.INTEGRATION)
    assert await stage.entries_by(person.key_id) == []


# Refused changes: each reaches the service that would audit it (past the key and role checks) and is refused
# there with a 4xx, so nothing of it, its audit entry included, may stay.


async def _erase_quoting_the_name(stage: Stage, person: Person) -> httpx.Response:
    member_id = await setup.member(stage, name="Li Na Refused")
    return await person.act("DELETE", f"/api/v1/members/{member_id}", json={"reason": "Li Na Refused asked us"})


async def _debit_beyond_the_balance(stage: Stage, person: Person) -> httpx.Response:
    member_id = await setup.member(stage)
    body = {"points": -500, "reason": "correction of a double credit"}
    return await person.act("POST", f"/api/v1/members/{member_id}/points/adjustments", json=body)


async def _delete_a_segment_a_campaign_uses(stage: Stage, person: Person) -> httpx.Response:
    campaign_id = await setup.campaign(stage)
    segment_id = ok(await stage.admin.get(f"/api/v1/campaigns/{campaign_id}")).json()["segment_id"]
    return await person.act("DELETE", f"/api/v1/segments/{segment_id}")


async def _approve_what_another_approver_decided(stage: Stage, person: Person) -> httpx.Response:
    approval_id = await setup.approval(stage)
    ok(await stage.admin.post(f"/api/v1/approvals/{approval_id}/reject", json={"reason": "first to decide"}))
    return await person.act("POST", f"/api/v1/approvals/{approval_id}/approve", json={})


async def _start_a_cancelled_campaign(stage: Stage, person: Person) -> httpx.Response:
    campaign_id = await setup.campaign(stage)
    ok(await stage.admin.post(f"/api/v1/campaigns/{campaign_id}/cancel", json={}))
    return await person.act("POST", f"/api/v1/campaigns/{campaign_id}/start")


async def _publish_an_invalid_journey(stage: Stage, person: Person) -> httpx.Response:
    kind = await setup.journey(stage)
    broken = {**setup.journey_body(kind), "steps": [{"id": "mark", "send": {"channel": "fax"}}]}
    return await person.act("PUT", f"/api/v1/journeys/{kind}", json=broken)


async def _reject_in_the_inbox_without_a_reason(stage: Stage, person: Person) -> httpx.Response:
    approval_id = await setup.approval(stage)
    return await person.act("POST", f"/console/inbox/{approval_id}/reject", data={"reason": ""})


async def _erase_in_the_console_quoting_the_name(stage: Stage, person: Person) -> httpx.Response:
    member_id = await setup.member(stage, name="Zhao Lei Refused")
    form = {"reason": "Zhao Lei Refused wrote in", "confirm": "1"}
    return await person.act("POST", f"/console/members/{member_id}/erase", data=form)


async def _close_a_closed_ticket(stage: Stage, person: Person) -> httpx.Response:
    ticket_id = await setup.ticket(stage, closed=True)
    return await person.act("POST", f"/api/v1/tickets/{ticket_id}/close")


REFUSALS = {
    "erasure whose reason repeats the name": (Role.ADMIN, "api", _erase_quoting_the_name, 422),
    "debit beyond the balance": (Role.ADMIN, "api", _debit_beyond_the_balance, 409),
    "deleting a segment in use": (Role.MARKETER, "api", _delete_a_segment_a_campaign_uses, 409),
    "approving what was decided": (Role.APPROVER, "api", _approve_what_another_approver_decided, 409),
    "starting a cancelled campaign": (Role.MARKETER, "api", _start_a_cancelled_campaign, 409),
    "publishing an invalid journey": (Role.MARKETER, "api", _publish_an_invalid_journey, 422),
    "closing a closed ticket": (Role.OPS, "api", _close_a_closed_ticket, 409),
    "console rejection without a reason": (Role.APPROVER, "console", _reject_in_the_inbox_without_a_reason, 422),
    "console erasure quoting the name": (Role.ADMIN, "console", _erase_in_the_console_quoting_the_name, 422),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
async def test_a_refused_change_writes_no_entry(stage: Stage, case: str) -> None:
    role, via, refuse, status = REFUSALS[case]
    person = await stage.person(role, via)
    try:
        refused = await refuse(stage, person)
    finally:
        if person.client is not stage.http:
            await person.client.aclose()
    assert refused.status_code == status, refused.text
    assert await stage.entries_by(person.key_id) == []


async def test_an_idempotency_key_reused_for_another_change_is_refused_and_writes_nothing(stage: Stage) -> None:
    person = await stage.person(Role.MARKETER, "api")
    headers = {"Idempotency-Key": f"audit-{uuid.uuid4()}"}
    ok(await person.act("POST", "/api/v1/segments", json=setup.segment_body(), headers=headers))
    other = await person.act("POST", "/api/v1/segments", json=setup.segment_body(), headers=headers)
    assert other.status_code == 409, other.text
    assert [e.action for e in await stage.entries_by(person.key_id)] == ["segment.create"]
