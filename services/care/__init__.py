"""Care: surveys (NPS, CSAT, custom questions), their sends to members, and the answers that feed rules and
journeys through the `survey_answered` trigger. Service tickets, which hand their closing to `send_survey`,
live beside them."""

from services.care.answers import Answer, validate_answer
from services.care.survey_defs import (
    Question,
    SurveyCreate,
    SurveyKind,
    SurveyUpdate,
    Texts,
    list_surveys,
)
from services.care.survey_defs import create as create_survey
from services.care.survey_defs import get as get_survey
from services.care.survey_defs import remove as remove_survey
from services.care.survey_defs import update as update_survey
from services.care.surveys import (
    SURVEY_ANSWERED,
    AlreadyAnswered,
    SendView,
    SurveyInactive,
    answer,
    open_send,
    send_survey,
)

__all__ = [
    "SURVEY_ANSWERED",
    "AlreadyAnswered",
    "Answer",
    "Question",
    "SendView",
    "SurveyCreate",
    "SurveyInactive",
    "SurveyKind",
    "SurveyUpdate",
    "Texts",
    "answer",
    "create_survey",
    "get_survey",
    "list_surveys",
    "open_send",
    "remove_survey",
    "send_survey",
    "update_survey",
    "validate_answer",
]
