"""The member portal under /portal (docs/portal.md): mobile-first server-rendered pages for members, signed in
by a one-time code or a signed link. Member-session routes, never API-key routes; not in the OpenAPI schema."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).resolve().parent / "static"


def install(app: FastAPI) -> None:
    """Add the portal's pages, its static files at /portal/static and its sign-in redirect."""
    from api.portal import challenges, pages, profile, rewards, session, signin, surveys

    router = APIRouter(include_in_schema=False)
    router.include_router(signin.router, prefix="/portal")
    router.include_router(pages.router, prefix="/portal")
    router.include_router(rewards.router, prefix="/portal")
    router.include_router(profile.router, prefix="/portal")
    router.include_router(surveys.router, prefix="/portal")
    router.include_router(challenges.router, prefix="/portal")
    app.include_router(router)
    app.mount("/portal/static", StaticFiles(directory=STATIC), name="portal-static")
    app.add_exception_handler(session.SignInRequired, session.on_sign_in_required)
