"""Campaigns: create, start, pause, resume, cancel, and watch progress, members and results."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import CurrentKey, IdempotencyKeyDep, MarketerKey, SessionDep, SettingsDep
from api.pagination import CAMPAIGN_CURSOR, CAMPAIGN_MEMBER_CURSOR, CursorQuery
from api.respond import commit_write
from api.schemas.campaigns import (
    CampaignCreate,
    CampaignDetailOut,
    CampaignMemberOut,
    CampaignMemberPage,
    CampaignOut,
    CampaignPage,
    CancelBody,
    NoBody,
    ProgressOut,
    ResultsOut,
)
from api.schemas.common import ERROR_RESPONSES
from core.settings import Settings
from models import ApiKey, Campaign
from services import campaigns
from services.platform.audit import Actor
from workflows import contracts

router = APIRouter(prefix="/api/v1/campaigns", tags=["campaigns"], responses=ERROR_RESPONSES)
CampaignStatus = Annotated[str | None, Query(pattern="^(draft|scheduled|running|paused|completed|cancelled|failed)$")]


async def _detail(session: AsyncSession, campaign: Campaign, settings: Settings) -> CampaignDetailOut:
    counts = await campaigns.progress(session, campaign.id)
    workflow_id = contracts.campaign_workflow_id(campaign.id)
    base = settings.temporal.ui_url.rstrip("/")
    return CampaignDetailOut(
        **CampaignOut.model_validate(campaign).model_dump(),
        progress=ProgressOut(**counts.as_dict(), rate=campaigns.rate(campaign, counts)),
        workflow_id=workflow_id,
        temporal_url=f"{base}/namespaces/{settings.temporal.namespace}/workflows/{workflow_id}",
    )


@router.post("", status_code=201, response_model=CampaignDetailOut, summary="Create a campaign (optionally start it)")
async def create_campaign(
    request: Request,
    body: CampaignCreate,
    session: SessionDep,
    key: MarketerKey,
    settings: SettingsDep,
    idem: IdempotencyKeyDep,
) -> Response:
    async def make() -> CampaignDetailOut:
        campaign = await campaigns.create(
            session,
            body,
            actor=Actor.of_key(key),
            start_in=settings.temporal.task_queue if body.start else None,
            tuning=settings.campaigns.model_dump(),
        )
        return await _detail(session, campaign, settings)

    return await commit_write(request, session, key=key, body=body, idempotency_key=idem, make=make)


@router.get("", response_model=CampaignPage, summary="Campaigns, newest first")
async def list_campaigns(
    session: SessionDep,
    _: CurrentKey,
    status: CampaignStatus = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: CursorQuery = None,
) -> CampaignPage:
    rows = await campaigns.listing(session, status=status, limit=limit + 1, after=CAMPAIGN_CURSOR.decode(cursor))
    return CampaignPage.of(rows, limit, CAMPAIGN_CURSOR, key=lambda c: c.id, item=CampaignOut.model_validate)


@router.get("/{campaign_id}", response_model=CampaignDetailOut, summary="A campaign with its live progress")
async def get_campaign(
    campaign_id: uuid.UUID, session: SessionDep, _: CurrentKey, settings: SettingsDep
) -> CampaignDetailOut:
    return await _detail(session, await campaigns.get(session, campaign_id), settings)


async def _act(
    request: Request,
    session: AsyncSession,
    key: ApiKey,
    settings: Settings,
    body: BaseModel,
    change: Callable[[Actor], Awaitable[Campaign]],
) -> Response:
    async def make() -> CampaignDetailOut:
        return await _detail(session, await change(Actor.of_key(key)), settings)

    return await commit_write(request, session, key=key, body=body, idempotency_key=None, make=make, status_code=200)


@router.post(
    "/{campaign_id}/start",
    response_model=CampaignDetailOut,
    summary="Start (again: an active campaign is the same run; a finished one enrols newcomers only)",
)
async def start_campaign(
    campaign_id: uuid.UUID, request: Request, session: SessionDep, key: MarketerKey, settings: SettingsDep
) -> Response:
    async def change(actor: Actor) -> Campaign:
        campaign, _ = await campaigns.start(
            session,
            campaign_id,
            actor=actor,
            task_queue=settings.temporal.task_queue,
            tuning=settings.campaigns.model_dump(),
        )
        return campaign

    return await _act(request, session, key, settings, NoBody(), change)


@router.post("/{campaign_id}/pause", response_model=CampaignDetailOut, summary="Stop enrolling after this page")
async def pause_campaign(
    campaign_id: uuid.UUID, request: Request, session: SessionDep, key: MarketerKey, settings: SettingsDep
) -> Response:
    return await _act(
        request, session, key, settings, NoBody(), lambda actor: campaigns.pause(session, campaign_id, actor=actor)
    )


@router.post("/{campaign_id}/resume", response_model=CampaignDetailOut, summary="Enrol again where it paused")
async def resume_campaign(
    campaign_id: uuid.UUID, request: Request, session: SessionDep, key: MarketerKey, settings: SettingsDep
) -> Response:
    return await _act(
        request, session, key, settings, NoBody(), lambda actor: campaigns.resume(session, campaign_id, actor=actor)
    )


@router.post(
    "/{campaign_id}/cancel",
    response_model=CampaignDetailOut,
    summary="Stop for good; pending members are cancelled (and the started journeys, on request)",
)
async def cancel_campaign(
    campaign_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    key: MarketerKey,
    settings: SettingsDep,
    body: CancelBody | None = None,
) -> Response:
    body = body or CancelBody()
    cancel_journeys = body.cancel_journeys

    def change(actor: Actor) -> Awaitable[Campaign]:
        return campaigns.cancel(
            session,
            campaign_id,
            actor=actor,
            cancel_journeys=cancel_journeys,
            task_queue=settings.temporal.task_queue,
            tuning=settings.campaigns.model_dump(),
        )

    return await _act(request, session, key, settings, body, change)


@router.get("/{campaign_id}/results", response_model=ResultsOut, summary="Enrolment, messages, conversions, uplift")
async def get_results(campaign_id: uuid.UUID, session: SessionDep, _: CurrentKey) -> ResultsOut:
    return ResultsOut.model_validate(await campaigns.results(session, campaign_id))


@router.get("/{campaign_id}/members", response_model=CampaignMemberPage, summary="The snapshot's members (paged)")
async def list_members(
    campaign_id: uuid.UUID,
    session: SessionDep,
    _: CurrentKey,
    status: Annotated[str | None, Query(pattern="^(pending|enrolled|held_out|skipped|failed|cancelled)$")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: CursorQuery = None,
) -> CampaignMemberPage:
    after = CAMPAIGN_MEMBER_CURSOR.decode(cursor)
    await campaigns.get(session, campaign_id)
    rows = await campaigns.members_page(session, campaign_id, status=status, after=after, limit=limit + 1)
    return CampaignMemberPage.of(
        rows, limit, CAMPAIGN_MEMBER_CURSOR, key=lambda m: m.member_id, item=CampaignMemberOut.model_validate
    )
