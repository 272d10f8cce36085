"""Registration sources: the channel and store codes staff publish as `/portal/join?src={code}` links and QR
codes (the console's sources page), with the sign-ups each brought. A code used in a link but never defined
here still counts (services.portal.join keeps any safe code), so the list shows those too."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Literal
from urllib.parse import urlencode

from pydantic import BaseModel, ConfigDict, StringConstraints
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import Conflict, NotFound
from models import PortalSource
from services.analytics import kpis
from services.platform import audit
from services.platform.audit import Actor

SOURCE_CODE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")  # as services.portal.join keeps a link's `src`
Code = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, pattern=SOURCE_CODE.pattern)]
Label = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class SourceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: Code
    label: Label
    kind: Literal["channel", "store"] = "store"


@dataclass(frozen=True)
class SourceRow:
    code: str
    label: str | None  # None for a code used in links but not defined here
    kind: str | None
    signups: int  # new members in the period


def join_url(public_url: str, code: str) -> str:
    return f"{public_url.rstrip('/')}/portal/join?{urlencode({'src': code})}"


async def create(session: AsyncSession, data: SourceCreate, *, actor: Actor) -> PortalSource:
    """A new source; Conflict `source_exists` for a code already defined. Audited as `portal_source.create`."""
    made = (
        await session.execute(
            insert(PortalSource)
            .values(code=data.code, label=data.label, kind=data.kind, created_by=actor.name)
            .on_conflict_do_nothing(index_elements=["code"])
            .returning(PortalSource)
        )
    ).scalar_one_or_none()
    if made is None:
        raise Conflict(f"a source with the code {data.code!r} exists already", code="source_exists")
    await audit.record(
        session,
        actor,
        action="portal_source.create",
        target_type="portal_source",
        target_id=data.code,
        details={"label": data.label, "kind": data.kind},
    )
    return made


async def get(session: AsyncSession, code: str) -> PortalSource:
    found = (await session.execute(select(PortalSource).where(PortalSource.code == code))).scalar_one_or_none()
    if found is None:
        raise NotFound(f"there is no source {code!r}", code="source_not_found")
    return found


async def listed(session: AsyncSession, *, start: date, end: date) -> list[SourceRow]:
    """The defined sources (in code order) and then the other codes sign-ups came with, each with the
    period's sign-ups; `direct` and `api` (no source) are among the others when they have any."""
    found = await kpis.signups_by_source(session, kpis.Period.of(start, end, None))
    counts = {row.source: row.members for row in found}
    defined = (await session.execute(select(PortalSource).order_by(PortalSource.code))).scalars().all()
    rows = [SourceRow(s.code, s.label, s.kind, counts.pop(s.code, 0)) for s in defined]
    rows += [SourceRow(code, None, None, signups) for code, signups in counts.items()]
    return rows
