"""Care: service tickets with SLAs (queues, tickets, their history, the commands people send to a ticket's
ServiceTicket workflow, and the steps its activities take), and surveys (NPS, CSAT, custom questions): their
sends to members, from journeys, campaigns and closed tickets, and the answers that feed rules and journeys
through the `survey_answered` trigger."""

from services.care.answers import Answer, validate_answer
from services.care.commands import command, send_update
from services.care.queues import QueueCreate
from services.care.sla import Clock, clock
from services.care.survey_builtins import TICKET_CSAT, seed_builtin_surveys
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
from services.care.tickets import (
    Channel,
    Priority,
    Status,
    TicketCreate,
    create,
    get,
    history,
    listing,
    queue_board,
    queue_counts,
)

__all__ = [
    "SURVEY_ANSWERED",
    "TICKET_CSAT",
    "AlreadyAnswered",
    "Answer",
    "Channel",
    "Clock",
    "Priority",
    "Question",
    "QueueCreate",
    "SendView",
    "Status",
    "SurveyCreate",
    "SurveyInactive",
    "SurveyKind",
    "SurveyUpdate",
    "Texts",
    "TicketCreate",
    "answer",
    "clock",
    "command",
    "create",
    "create_survey",
    "get",
    "get_survey",
    "history",
    "list_surveys",
    "listing",
    "open_send",
    "queue_board",
    "queue_counts",
    "remove_survey",
    "seed_builtin_surveys",
    "send_survey",
    "send_update",
    "update_survey",
    "validate_answer",
]
