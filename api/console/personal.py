"""Personal data on console pages: the signed-in key's view (services.privacy.masking), the Reveal of a holder
(`?unmasked=true`, one audit entry per page shown), and members as templates read them, masked."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession

from api.console.auth import ConsoleUser
from models import Member
from services.privacy import masking
from services.privacy.masking import PROFILE, View


def wants_reveal(request: Request) -> bool:
    return request.query_params.get("unmasked", "").lower() in ("1", "true")


def view_for(user: ConsoleUser, request: Request) -> View | None:
    """The user's view, or None when they asked for a Reveal their key does not permit (show a 403 page)."""
    if wants_reveal(request) and not user.personal_data:
        return None
    return masking.view_for(user.role, holds_permission=user.personal_data, unmasked=wants_reveal(request))


REVEAL_REFUSED = "Revealing personal data needs a key with the personal-data permission."


async def audit_reveal(
    session: AsyncSession, request: Request, user: ConsoleUser, view: View, member_ids: Iterable[uuid.UUID]
) -> None:
    """The one `personal_data.read` entry of a revealed page, committed before the page is sent."""
    if not view.unmasked:
        return
    route = request.scope.get("route")
    path = str(getattr(route, "path", request.url.path))
    # Console routers are mounted under /console, which their route templates leave out.
    path = path if path.startswith("/console") else f"/console{path}"
    await masking.record_read(session, user.actor, member_ids=member_ids, route=path)
    await session.commit()


class ShownRow:
    """A row as `view` shows it, for templates: its personal `columns` of `table` masked, every other attribute
    as stored. Read-only: pages never write through it."""

    def __init__(self, row: Any, view: View, table: str, columns: tuple[str, ...]) -> None:
        self._row, self._view, self._table, self._columns = row, view, table, columns

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._row, name)
        if name in self._columns:
            return self._view.apply(self._table, name, value)
        return value


def shown_member(member: Member, view: View) -> ShownRow:
    return ShownRow(member, view, "members", PROFILE)
