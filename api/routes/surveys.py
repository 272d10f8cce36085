"""Survey definitions: marketers write them (NPS, CSAT or custom questions), every role reads them. Surveys are
sent by a journey's `send_survey` step or a closed ticket, and answered on the portal (/portal/s/{token})."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from api.boundary import commit
from api.deps import CurrentKey, IdempotencyKeyDep, MarketerKey, SessionDep
from api.respond import commit_write
from api.schemas.common import ERROR_RESPONSES
from api.schemas.surveys import SurveyDeleted, SurveyOut
from services import care
from services.care import SurveyCreate, SurveyUpdate
from services.platform.audit import Actor

router = APIRouter(prefix="/api/v1/surveys", tags=["surveys"], responses=ERROR_RESPONSES)

SurveyKeyPath = Annotated[str, Path(max_length=64, description="The survey's key")]


@router.get("", response_model=list[SurveyOut], summary="Every survey")
async def list_surveys(session: SessionDep, _: CurrentKey) -> list[SurveyOut]:
    return [SurveyOut.of(survey) for survey in await care.list_surveys(session)]


@router.post("", status_code=201, response_model=SurveyOut, summary="Define a survey (marketer)")
async def create_survey(
    request: Request, body: SurveyCreate, session: SessionDep, key: MarketerKey, idem: IdempotencyKeyDep
) -> Response:
    async def make() -> SurveyOut:
        return SurveyOut.of(await care.create_survey(session, body, actor=Actor.of_key(key)))

    return await commit_write(request, session, key=key, body=body, idempotency_key=idem, make=make)


@router.get("/{survey_key}", response_model=SurveyOut, summary="One survey")
async def get_survey(survey_key: SurveyKeyPath, session: SessionDep, _: CurrentKey) -> SurveyOut:
    return SurveyOut.of(await care.get_survey(session, survey_key))


@router.patch(
    "/{survey_key}",
    response_model=SurveyOut,
    summary="Change a survey's texts, questions or whether it is active (marketer; the key and kind stay)",
)
async def update_survey(
    survey_key: SurveyKeyPath, body: SurveyUpdate, session: SessionDep, key: MarketerKey
) -> SurveyOut:
    out = SurveyOut.of(await care.update_survey(session, survey_key, body, actor=Actor.of_key(key)))
    await commit(session)
    return out


@router.delete(
    "/{survey_key}",
    response_model=SurveyDeleted,
    summary="Delete a survey never sent (marketer; 409 once sent: deactivate it instead)",
)
async def delete_survey(survey_key: SurveyKeyPath, session: SessionDep, key: MarketerKey) -> SurveyDeleted:
    await care.remove_survey(session, survey_key, actor=Actor.of_key(key))
    await commit(session)
    return SurveyDeleted(key=survey_key)
