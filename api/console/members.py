"""Members: search, and the 360 view (profile with the custom member fields, consent, points with the ledger,
orders, coupons, journeys with links to their runs in the Temporal UI, messages, tasks)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from api.boundary import commit
from api.console.auth import ConsoleUser, require
from api.console.personal import REVEAL_REFUSED, ShownRow, audit_reveal, shown_member, view_for
from api.console.render import render
from api.deps import SessionDep, SettingsDep
from api.pagination import LEDGER_CURSOR, MEMBER_CURSOR
from core.errors import NotFound
from core.settings import Settings
from models import MemberField
from services import care, challenges, journeys, members, messaging
from services.analytics import member360
from services.journeys import tasks
from services.loyalty import ledger, tier_reviews
from services.members import fields
from services.privacy import masking
from services.rewards import coupons
from services.segments import rfm

router = APIRouter()
PAGE = 50
LEDGER_PAGE = 25


def run_url(settings: Settings, workflow_id: str, run_id: str) -> str:
    """The run in the Temporal UI, built the way the journeys API builds its `temporal_url`."""
    base = settings.temporal.ui_url.rstrip("/")
    return f"{base}/namespaces/{settings.temporal.namespace}/workflows/{workflow_id}/{run_id}"


@dataclass(frozen=True)
class CustomFieldRow:
    """One custom field as the 360 view shows it: the English label, the Chinese one as its tooltip."""

    key: str
    label: str
    label_zh_cn: str | None
    value: str | None
    personal_data: bool


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return str(value)


def custom_field_rows(definitions: Sequence[MemberField], attributes: Mapping[str, Any]) -> list[CustomFieldRow]:
    """Every defined field (empty ones too, so a marketer sees what can be filled in), then any value held for a
    key that no field defines (written before its field was deleted without force, or by an older release)."""
    rows = [
        CustomFieldRow(
            key=d.key,
            label=d.label_en,
            label_zh_cn=d.label_zh_cn,
            value=_shown(attributes[d.key]) if attributes.get(d.key) is not None else None,
            personal_data=d.personal_data,
        )
        for d in definitions
    ]
    defined = {d.key for d in definitions}
    rows += [
        CustomFieldRow(key=key, label=key, label_zh_cn=None, value=_shown(value), personal_data=False)
        for key, value in sorted(attributes.items())
        if key not in defined
    ]
    return rows


def _uuid(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        return None


@router.get("/members", response_class=HTMLResponse)
async def member_search(
    request: Request, session: SessionDep, user: Annotated[ConsoleUser, require("members")]
) -> HTMLResponse:
    query = (request.query_params.get("q") or "").strip()[:200] or None
    tier = (request.query_params.get("tier") or "").strip()[:32] or None
    after = MEMBER_CURSOR.decode_or_none(request.query_params.get("cursor"))
    view = view_for(user, request)
    if view is None:
        return render(request, "forbidden.html", status_code=403, user=user, page=None, reason=REVEAL_REFUSED)
    rows = await members.search(session, query=query, tier=tier, limit=PAGE + 1, after=after)
    page, next_cursor = MEMBER_CURSOR.take(rows, PAGE, key=lambda m: m.id)
    await audit_reveal(session, request, user, view, [m.id for m in page])
    shown = [shown_member(m, view) for m in page]
    return render(
        request, "members.html", user=user, rows=shown, query=query or "", tier=tier or "", next_cursor=next_cursor
    )


@router.get("/members/{member_id}", response_class=HTMLResponse)
async def member_360(
    request: Request,
    member_id: str,
    session: SessionDep,
    settings: SettingsDep,
    user: Annotated[ConsoleUser, require("members")],
) -> HTMLResponse:
    parsed = _uuid(member_id)
    view = view_for(user, request)
    if view is None:
        return render(request, "forbidden.html", status_code=403, user=user, page=None, reason=REVEAL_REFUSED)
    try:
        if parsed is None:
            raise NotFound(f"member {member_id} does not exist", code="member_not_found")
        # The member's referral code is made the first time it is shown (here, the API or their portal home).
        view_360 = await member360.view(session, parsed, public_url=settings.messaging.public_url)
    except NotFound:
        return render(request, "not_found.html", status_code=404, user=user, what="member")
    after = LEDGER_CURSOR.decode_or_none(request.query_params.get("cursor"))
    rows = await ledger.statement(session, parsed, limit=LEDGER_PAGE + 1, after=after)
    lines, older = LEDGER_CURSOR.take(rows, LEDGER_PAGE, key=lambda line: line.entry_id)
    runs = await journeys.member_runs(session, parsed, limit=20)
    definitions = await fields.list_fields(session)
    open_keys = [d.key for d in definitions if not d.personal_data]
    attributes = masking.attributes(view, view_360.member.attributes or {}, open_keys)
    page_messages = await messaging.list_messages(session, member_id=parsed, limit=20)
    page_tasks = await tasks.listing(session, status=None, role=None, member_id=parsed, limit=20)
    await audit_reveal(session, request, user, view, [parsed])
    invite = view_360.referral
    await commit(session)
    return render(
        request,
        "member.html",
        invite=invite,
        user=user,
        m=shown_member(view_360.member, view),
        revealed=view.unmasked,
        points=view_360.points,
        expiries=view_360.expiries,
        paid_plan=view_360.paid_plan,
        tier_history=view_360.tier_history,
        standing=await tier_reviews.standing(session, view_360.member, today=datetime.now(UTC).date()),
        orders=view_360.recent_orders,
        lines=lines,
        older=older,
        coupons=await coupons.list_member_coupons(session, parsed, limit=20),
        runs=[(run, run_url(settings, run.workflow_id, run.run_id)) for run in runs],
        challenge_runs=await challenges.member_runs(session, parsed),
        badges=await challenges.member_badges(session, parsed),
        messages=[ShownRow(g, view, "messages", ("reason",)) for g in page_messages],
        tasks=[ShownRow(t, view, "staff_tasks", ("title",)) for t in page_tasks],
        tickets=await care.listing(session, member_id=parsed, limit=20),
        can_tickets="tickets" in user.pages,
        scores=await rfm.rfm_scores(session, parsed),
        custom_fields=custom_field_rows(definitions, attributes),
        can_tasks="tasks" in user.pages,
        checkouts=view_360.open_checkouts,
        checkout_url=lambda checkout_id: (
            f"{settings.temporal.ui_url.rstrip('/')}/namespaces/{settings.temporal.namespace}/workflows/"
            f"checkout-{checkout_id}"
        ),
    )
