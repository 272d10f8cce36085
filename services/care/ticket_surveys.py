"""A closed ticket's survey: when its `ticket_surveys_due` row is written (the ServiceTicket workflow's
survey_due activity, after the survey delay), the survey that settings.care.ticket_survey names is sent in the
same transaction and the row is marked picked up, with the send or the reason nothing was sent. The row's key
(ticket, closing) makes this happen once per closing, however often the activity is retried."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import Conflict, NotFound
from models import TicketSurveyDue
from services.care.surveys import send_survey

DISABLED = "disabled"  # settings.care.ticket_survey is empty


def source_id(row: TicketSurveyDue) -> str:
    """The send's origin: the ticket's id, and for a ticket reopened and closed again, which closing asked."""
    return str(row.ticket_id) if row.closing == 1 else f"{row.ticket_id}:{row.closing}"


async def send_for(
    session: AsyncSession, row: TicketSurveyDue, survey_key: str, *, at: datetime, task_queue: str
) -> None:
    """Send `survey_key` to the ticket's member for this closing, or record why not: `disabled`, or the refusal's
    code (`survey_not_found`, `survey_inactive`, `member_erased`). Either way the row is picked up, so it is
    never sent later by surprise."""
    row.picked_up_at = at
    if not survey_key:
        row.skipped = DISABLED
        return
    try:
        send = await send_survey(
            session,
            survey_key,
            row.member_id,
            source="ticket",
            source_id=source_id(row),
            task_queue=task_queue,
            now=at,
        )
    except (NotFound, Conflict) as refused:  # refusals come from reads before anything is written
        row.skipped = refused.code
        return
    row.survey_send_id = send.id
