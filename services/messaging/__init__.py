"""Messaging: templates, consent and opt-out, providers, and the exactly-once send."""

from services.messaging.delivery import (
    RESEND_CLAIM,
    ClaimLost,
    abandon_resend,
    begin_resend,
    claim,
    deliver,
    mark_failed,
    mark_sent,
    release,
    start_sending,
)
from services.messaging.service import (
    FREQUENCY_WINDOW,
    UNKNOWN_OUTCOME,
    Category,
    MessageStatus,
    Outcome,
    Outgoing,
    SendRequest,
    Suppression,
    find,
    get_message,
    list_messages,
    prepare,
    quiet_hours_end,
    recent_messages,
)
from services.messaging.templates import (
    seed_builtin_templates,
)
from services.messaging.variables import available_variables

__all__ = [
    "RESEND_CLAIM",
    "Category",
    "ClaimLost",
    "FREQUENCY_WINDOW",
    "MessageStatus",
    "Outcome",
    "Outgoing",
    "SendRequest",
    "Suppression",
    "UNKNOWN_OUTCOME",
    "abandon_resend",
    "available_variables",
    "begin_resend",
    "claim",
    "deliver",
    "find",
    "get_message",
    "list_messages",
    "mark_failed",
    "mark_sent",
    "prepare",
    "quiet_hours_end",
    "recent_messages",
    "release",
    "seed_builtin_templates",
    "start_sending",
]
