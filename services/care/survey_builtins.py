"""The surveys memberflow ships with: the CSAT survey a closed service ticket sends (settings.care.ticket_survey
names it by default). Seeded at start-up like the built-in rules: added where missing, never overwritten, so a
marketer's edits (texts, `active`) stay."""

from __future__ import annotations

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from models import Survey
from services.care.survey_defs import SurveyCreate

TICKET_CSAT = "ticket_csat"
SEEDED_BY = "memberflow"

BUILTIN_SURVEYS: tuple[SurveyCreate, ...] = (
    SurveyCreate.model_validate(
        {
            "key": TICKET_CSAT,
            "kind": "csat",
            "title": {"en": "How did we handle your request?", "zh-CN": "您对本次服务满意吗？"},
            "prompt": {
                "en": "How satisfied were you with how we handled your request?",
                "zh-CN": "您对我们处理本次服务请求的方式满意吗？",
            },
        }
    ),
)


async def seed_builtin_surveys(session: AsyncSession) -> int:
    """Add the built-in surveys that are missing; returns how many were added."""
    added = 0
    for survey in BUILTIN_SURVEYS:
        stmt = (
            insert(Survey)
            .values(
                key=survey.key,
                kind=survey.kind.value,
                title_en=survey.title.en,
                title_zh_cn=survey.title.zh_cn,
                prompt_en=survey.prompt.en,
                prompt_zh_cn=survey.prompt.zh_cn,
                questions=[],
                comment_required=survey.comment_required,
                active=survey.active,
                created_by=SEEDED_BY,
            )
            .on_conflict_do_nothing(index_elements=["key"])
            .returning(Survey.id)
        )
        if (await session.execute(stmt)).scalar_one_or_none() is not None:
            added += 1
    return added
