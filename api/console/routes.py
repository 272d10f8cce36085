"""The console's router: every page module under /console, without the OpenAPI schema."""

from __future__ import annotations

from fastapi import APIRouter

from api.console import auth, campaigns, dashboard, inbox, journeys, members, messages, rules

router = APIRouter(include_in_schema=False)
for module in (auth, dashboard, members, inbox, campaigns, journeys, rules, messages):
    router.include_router(module.router, prefix="/console")
