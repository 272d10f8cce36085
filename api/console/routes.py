"""The console's router: every page module under /console, without the OpenAPI schema."""

from __future__ import annotations

from fastapi import APIRouter

from api.console import (
    auth,
    builder,
    campaigns,
    challenges,
    checkout,
    dashboard,
    erasure,
    fields,
    imports,
    inbox,
    journey_editor,
    journeys,
    keys,
    members,
    messages,
    plans,
    referrals,
    rule_builder,
    rules,
    segment_builder,
    segments,
    sources,
    surveys,
    ticket_new,
    tickets,
    tiers,
    voice,
)

router = APIRouter(include_in_schema=False)
# The builders before their pages: /journeys/new and /rules/new must win over /journeys/{kind} and
# /rules/{rule_id}, and voice's /tickets/follow-up and ticket_new's /tickets/new over /tickets/{ticket_id};
# segments declares its own /segments/new before /segments/{segment_id}.
MODULES = (
    auth,
    builder,
    dashboard,
    erasure,
    members,
    inbox,
    campaigns,
    segments,
    segment_builder,
    journey_editor,
    journeys,
    rule_builder,
    rules,
    messages,
    fields,
    plans,
    surveys,
    challenges,
    imports,
    voice,
    ticket_new,
    tickets,
    sources,
    checkout,
    referrals,
    tiers,
    keys,
)
for module in MODULES:
    router.include_router(module.router, prefix="/console")
