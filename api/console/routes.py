"""The console's router: every page module under /console, without the OpenAPI schema."""

from __future__ import annotations

from fastapi import APIRouter

from api.console import (
    auth,
    builder,
    campaigns,
    dashboard,
    fields,
    inbox,
    journeys,
    members,
    messages,
    rules,
    segment_builder,
    segments,
)

router = APIRouter(include_in_schema=False)
for module in (
    auth,
    builder,
    dashboard,
    members,
    inbox,
    campaigns,
    segments,
    segment_builder,
    journeys,
    rules,
    messages,
    fields,
):
    router.include_router(module.router, prefix="/console")
