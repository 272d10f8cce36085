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
    rule_builder,
    rules,
    segment_builder,
    segments,
)

router = APIRouter(include_in_schema=False)
# rule_builder before rules: its /rules/new must win over the rule page's /rules/{rule_id}; segments declares its
# own /segments/new before /segments/{segment_id}.
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
    rule_builder,
    rules,
    messages,
    fields,
):
    router.include_router(module.router, prefix="/console")
