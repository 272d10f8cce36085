"""The FastAPI application factory."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.responses import RedirectResponse
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.routing import BaseRoute
from temporalio.client import Client

from api.auth_guard import AuthGuard
from api.boundary import commit
from api.codec_cors import CodecCors
from api.console import install as install_console
from api.delivery import OutboxDelivery
from api.errors import install_error_handlers
from api.key_usage import recording_key_use
from api.keywatch import watching_revocations
from api.middleware import BodySizeLimit, Metrics
from api.portal import install as install_portal
from api.routes import (
    approvals,
    audit,
    campaigns,
    challenges,
    checkouts,
    codec,
    coupons,
    events,
    health,
    imports,
    journeys,
    keys,
    kpis,
    member_fields,
    members,
    messages,
    orders,
    outbox,
    plans,
    points,
    privacy,
    rewards,
    rules,
    segments,
    surveys,
    tickets,
    tiers,
)
from api.schemas.members import MemberLinks
from api.security_headers import SecurityHeaders
from api.temporal import TemporalConnector
from core.db import create_engine, create_session_factory
from core.settings import Settings, get_settings
from services.intake import bootstrap
from services.platform import api_keys

log = logging.getLogger("memberflow.api")


async def _bootstrap_admin(app: FastAPI, settings: Settings) -> None:
    if settings.admin_key is None:
        return
    async with app.state.sessions() as session:
        added = await api_keys.ensure_bootstrap_admin(session, settings.admin_key.get_secret_value())
        await commit(session)
    if added:
        log.info("admin API key from MEMBERFLOW_ADMIN_KEY is active")


# The routers of the hot paths (the member 360 in a router of its own, member create, order and event
# ingest), matched before every other route. Matching walks the routes in order, each included router its
# routes one by one, and for the 360 that walk (the docs pages, health, keys, the members routes before
# it) cost about a seventh of the framework's time per request.
_HOT_PATHS = (members.read_router, members.router, orders.router, events.router)


def _match_hot_paths_first(app: FastAPI, hot: list[BaseRoute]) -> None:
    """Move `hot` to the front of the routing table; the OpenAPI document keeps the order the routers were
    included in. A hot path that shares a path with a later route (a member's DELETE is the privacy router's)
    only partly matches on another method, and Starlette then keeps looking, so the order changes no match."""
    documented = list(app.router.routes)
    app.router.routes[:] = [*hot, *(route for route in documented if route not in hot)]

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = get_openapi(
                title=app.title,
                version=app.version,
                openapi_version=app.openapi_version,
                summary=app.summary,
                description=app.description,
                routes=documented,
                separate_input_output_schemas=app.separate_input_output_schemas,
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def create_app(
    settings: Settings | None = None, *, engine: AsyncEngine | None = None, temporal_client: Client | None = None
) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own_engine = engine is None
        app.state.engine = engine or create_engine(settings)
        app.state.sessions = create_session_factory(app.state.engine)
        app.state.temporal = TemporalConnector(settings.temporal, temporal_client)
        app.state.delivery = OutboxDelivery(app.state.sessions, app.state.temporal)
        await _bootstrap_admin(app, settings)
        try:
            async with app.state.sessions() as session:
                await bootstrap.seed(session)
                await commit(session)
        except (OSError, DBAPIError) as exc:  # the API still starts and reports the database on /readyz
            log.warning("could not seed built-in journeys and templates yet (the worker seeds too): %s", exc)
        app.state.auth_guard = AuthGuard(app.state.sessions, settings.api)
        try:
            async with (
                watching_revocations(app.state.engine) as listening,
                recording_key_use(app.state.sessions, app.state.auth_guard, settings.api.key_use_write_seconds),
            ):
                app.state.key_revocations_listening = listening
                yield
        finally:
            await app.state.delivery.close()
            if own_engine:
                await app.state.engine.dispose()

    app = FastAPI(
        title="memberflow",
        version="0.1.0",
        summary="Member lifecycle and loyalty service on Temporal",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.member_links = MemberLinks(
        temporal_ui=settings.temporal.ui_url,
        namespace=settings.temporal.namespace,
        public_url=settings.messaging.public_url,
    )
    install_error_handlers(app)
    routers = (
        health.router,
        keys.router,
        audit.router,
        members.router,
        privacy.router,
        members.read_router,
        journeys.router,
        approvals.router,
        orders.router,
        member_fields.router,
        points.router,
        events.router,
        imports.router,
        outbox.router,
        tiers.router,
        rewards.router,
        coupons.router,
        segments.router,
        campaigns.router,
        rules.router,
        surveys.router,
        challenges.router,
        challenges.member_router,
        kpis.router,
        messages.router,
        messages.unsubscribe_router,
        tickets.router,
        checkouts.router,
        plans.router,
        codec.router,
    )
    included: dict[int, BaseRoute] = {}
    for router in routers:
        app.include_router(router)
        included[id(router)] = app.router.routes[-1]
    install_console(app)
    install_portal(app)

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse("/console")

    _match_hot_paths_first(app, [included[id(router)] for router in _HOT_PATHS])

    app.add_middleware(BodySizeLimit, max_bytes=settings.api.max_body_bytes)
    app.add_middleware(Metrics)
    app.add_middleware(CodecCors, origin=settings.temporal.codec_origin())
    app.add_middleware(SecurityHeaders)
    return app
