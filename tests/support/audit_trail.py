"""The parts of the audit-trail check (tests/platform/test_audit_trail.py): the registry of recipes, one per
state-changing route, each making one real change as one person, and the stage they act on.

A recipe prepares what its change needs with the stage's own admin key (whose entries are not counted), then
makes the change exactly once through `person.act(...)`, and returns the entry that change must write. Adding
a route's recipe is one decorated function in tests/support/audit_recipes_*.py; a route that is not a
person's change goes in tests/support/audit_exempt.py with the reason."""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from core.settings import Settings
from models import AuditEntry
from services.platform import api_keys
from services.platform.api_keys import Role
from tests.support.console import csrf, sign_in
from tests.support.helpers import ApiClient

Sessions = async_sessionmaker[AsyncSession]
MUTATING = ("POST", "PUT", "PATCH", "DELETE")


@dataclass(frozen=True)
class Expected:
    """The one entry a change must write (actor, key and via are the person's, checked by the test)."""

    action: str
    target_type: str
    target_id: str


@dataclass(frozen=True)
class Sent:
    """The request that made the change, kept so the test can check its route and replay it."""

    method: str
    url: str
    kwargs: dict[str, Any]
    response: httpx.Response


@dataclass
class Person:
    """Whom a recipe acts as: a fresh key of one role, through the API or signed in to the console."""

    key_id: uuid.UUID
    name: str
    role: Role
    via: str
    client: httpx.AsyncClient
    secret: str
    csrf: str = ""
    sent: list[Sent] = field(default_factory=list)
    acted_at: datetime | None = None

    async def act(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """The change: one request, with the key (API) or the session's CSRF token (console). API calls carry
        an Idempotency-Key, which the routes that take one use and the others ignore."""
        headers = dict(kwargs.pop("headers", None) or {})
        if self.via == "api":
            headers.setdefault("Authorization", f"Bearer {self.secret}")
            headers.setdefault("Idempotency-Key", f"audit-{uuid.uuid4()}")
        elif "data" in kwargs:
            kwargs["data"] = {**kwargs["data"], "csrf_token": self.csrf}
        else:
            headers["X-CSRF-Token"] = self.csrf
        kwargs = {**kwargs, "headers": headers}
        self.acted_at = self.acted_at or datetime.now(UTC)
        response = await self.client.request(method, url, **kwargs)
        self.sent.append(Sent(method, url, kwargs, response))
        return response

    async def replay(self) -> httpx.Response:
        """The change sent again as it was, Idempotency-Key and all (a client retrying after a lost answer)."""
        last = self.sent[-1]
        return await self.client.request(last.method, last.url, **last.kwargs)


@dataclass
class Stage:
    """What every recipe shares: the in-process app on the module's own database, its Temporal client, the
    setup keys (admin, shop) and a maker of people."""

    app: FastAPI
    http: httpx.AsyncClient
    sessions: Sessions
    temporal: Client
    settings: Settings
    admin: ApiClient
    shop: ApiClient

    async def person(self, role: Role, via: str) -> Person:
        async with self.sessions() as session:
            issued = await api_keys.create(session, name=f"audit-{role.value}-{uuid.uuid4().hex[:8]}", role=role)
            await session.commit()
        key = issued.key
        if via == "api":
            return Person(key.id, key.name, role, via, self.http, issued.secret)
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://memberflow.test")
        signed_in = await sign_in(client, issued.secret)
        assert signed_in.status_code == 303, signed_in.text
        page = await client.get("/console")
        return Person(key.id, key.name, role, via, client, issued.secret, csrf(page.text))

    async def entries_by(self, key_id: uuid.UUID) -> list[AuditEntry]:
        async with self.sessions() as session:
            stmt = select(AuditEntry).where(AuditEntry.actor_key_id == key_id).order_by(AuditEntry.id)
            return list((await session.execute(stmt)).scalars().all())

    async def keyless_entries_since(self, moment: datetime) -> list[AuditEntry]:
        """Entries without a key since `moment`, other than the workflows' own: a change that audited itself
        twice, once under a made-up actor, would show here."""
        async with self.sessions() as session:
            stmt = select(AuditEntry).where(
                AuditEntry.actor_key_id.is_(None),
                AuditEntry.created_at >= moment,
                AuditEntry.details["via"].astext != "workflow",
            )
            return list((await session.execute(stmt)).scalars().all())


Run = Callable[[Stage, Person], Awaitable[Expected]]


@dataclass(frozen=True)
class Recipe:
    """How to make one route's change as a person of `role`. `shop_silent`: the shop's integration key may
    call the route too, and its calls are the shop's traffic, so the same recipe as the shop writes nothing."""

    route: str
    role: Role
    run: Run
    shop_silent: bool = False

    @property
    def via(self) -> str:
        return "console" if self.route.split(" ", 1)[1].startswith("/console") else "api"


RECIPES: dict[str, Recipe] = {}


def recipe(route: str, role: Role, *, shop_silent: bool = False) -> Callable[[Run], Run]:
    """Register `run` as the recipe of `route` ("POST /api/v1/members", the path as the app declares it)."""

    def register(run: Run) -> Run:
        assert route not in RECIPES, f"two recipes for {route}"
        RECIPES[route] = Recipe(route, role, run, shop_silent)
        return run

    return register


def path_pattern(path: str) -> re.Pattern[str]:
    """A declared path (`/api/v1/members/{member_id}`) as a pattern a requested path must match whole."""
    return re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(path)) + "$")


def ok(response: httpx.Response) -> httpx.Response:
    """The change succeeded (a console form answers with a 303 to the page it changed)."""
    assert response.status_code < 400, response.text
    return response
