"""Server-rendered console pages under /console (docs/console.md)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).resolve().parent / "static"


def install(app: FastAPI) -> None:
    """Add the console's pages, its static files at /console/static, and its redirect / 403 handlers."""
    from api.console import auth
    from api.console.routes import router

    app.include_router(router)
    app.mount("/console/static", StaticFiles(directory=STATIC), name="console-static")
    app.add_exception_handler(auth.LoginRequired, auth.on_login_required)
    app.add_exception_handler(auth.WrongRole, auth.on_wrong_role)
    app.add_exception_handler(auth.CsrfRejected, auth.on_csrf)
