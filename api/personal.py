"""Masked personal data at the HTTP edge: the `unmasked` query parameter, the caller's view, and the one audit
entry of a revealed answer (services.privacy.masking declares what each role sees)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Annotated

from fastapi import Query, Request
from sqlalchemy.ext.asyncio import AsyncSession

from models import ApiKey
from services.platform.audit import Actor
from services.privacy import masking
from services.privacy.masking import View

UnmaskedQuery = Annotated[
    bool,
    Query(
        description="Reveal unmasked personal data (needs a key with `personal_data`; each answer is audited "
        "as `personal_data.read`). Without it, personal fields are masked for the key's role."
    ),
]


def view_of(key: ApiKey, unmasked: bool = False) -> View:
    """The key's view: its role's masks, or everything for a holder of the permission who asked (else 403)."""
    return masking.view_for(key.role, holds_permission=key.personal_data, unmasked=unmasked)


def route_of(request: Request) -> str:
    """The route template (`/api/v1/members/{member_id}`), which names what was read without the ids."""
    route = request.scope.get("route")
    return str(getattr(route, "path", request.url.path))


async def audit_reveal(
    session: AsyncSession, request: Request, key: ApiKey, view: View, member_ids: Iterable[uuid.UUID | str]
) -> None:
    """For a revealed answer, its one `personal_data.read` entry, committed before the answer goes out."""
    if not view.unmasked:
        return
    await masking.record_read(session, Actor.of_key(key), member_ids=member_ids, route=route_of(request))
    await session.commit()
