"""The member's challenges: progress bars for the runs in progress, the ones done, the badges earned, and the
opt-in challenges they may join (one button each). Read from Postgres (services.challenges), never Temporal;
only the session's member. Joining twice shows the same run: the button is safe to tap again."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from api.boundary import commit
from api.deps import SessionDep
from api.portal import i18n
from api.portal.render import FormError, read_form, render
from api.portal.session import MemberDep, PortalMember, csrf_ok, now, settings_of
from core.errors import AppError, NotFound
from models import Challenge, MemberChallenge
from services import challenges, members

router = APIRouter()


@dataclass(frozen=True)
class RunView:
    run: MemberChallenge
    title: str
    goals: list[dict[str, Any]]  # the stored progress entries, each with its percent for the bar


def _title(challenge: Challenge, locale: str) -> str:
    return challenge.title_zh_cn if locale == "zh-CN" else challenge.title_en


def _percent(entry: dict[str, Any]) -> int:
    target = Decimal(entry["target"])
    return int(min(Decimal(100), Decimal(entry["value"]) * 100 / target)) if target > 0 else 0


async def _page(
    request: Request, session: SessionDep, who: PortalMember, *, error: str | None = None, status_code: int = 200
) -> Response:
    locale = i18n.choose(request, (await members.get(session, who.member_id)).locale)
    runs = [
        RunView(run, _title(challenge, locale), [entry | {"percent": _percent(entry)} for entry in run.progress])
        for run, challenge in await challenges.member_runs(session, who.member_id)
    ]
    badges = await challenges.member_badges(session, who.member_id)
    joinable = await challenges.open_to_join(session, who.member_id, now=now(request))
    return render(
        request,
        "challenges.html",
        locale=locale,
        status_code=status_code,
        signed_in=True,
        csrf=who.csrf,
        active="challenges",
        error=error,
        current=[r for r in runs if r.run.status == "active"],
        done=[r for r in runs if r.run.status != "active"],
        badges=badges,
        joinable=[(c, _title(c, locale), challenges.parse(c.definition)) for c in joinable],
    )


@router.get("/challenges")
async def challenges_page(request: Request, session: SessionDep, who: MemberDep) -> Response:
    return await _page(request, session, who)


def _uuid(raw: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(raw)
    except ValueError:
        return None


async def _form(request: Request) -> dict[str, str]:
    try:
        return await read_form(request)
    except FormError:
        return {}


@router.post("/challenges/{challenge_id}/join")
async def join(request: Request, challenge_id: str, session: SessionDep, who: MemberDep) -> Response:
    form = await _form(request)
    locale = i18n.choose(request, (await members.get(session, who.member_id)).locale)
    if not csrf_ok(form, who):
        t = i18n.translator(locale)
        return render(request, "message.html", locale=locale, status_code=403, title=t("form_expired"), text="")
    settings = settings_of(request)
    wanted = _uuid(challenge_id)
    try:
        if wanted is None:
            raise NotFound("no such challenge", code="challenge_not_found")
        await challenges.opt_in(
            session, wanted, who.member_id, task_queue=settings.temporal.task_queue, now=now(request)
        )
    except AppError as exc:
        await session.rollback()
        message = i18n.translator(locale)("challenge_closed")
        return await _page(request, session, who, error=message, status_code=exc.status_code)
    await commit(session)
    return RedirectResponse("/portal/challenges", status_code=303)
