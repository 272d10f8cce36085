"""Campaigns: a segment enrolled into a journey, with holdout, progress and results."""

from services.campaigns.counts import (
    Progress,
    members_page,
    progress,
    rate,
)
from services.campaigns.report import (
    results,
)
from services.campaigns.service import (
    SKIP_REASONS,
    CampaignSpec,
    Every,
    Recurrence,
    cancel,
    create,
    fail,
    finish,
    get,
    listing,
    mark_started,
    pause,
    record_counters,
    resume,
    start,
    using_segments,
)

__all__ = [
    "CampaignSpec",
    "Every",
    "Progress",
    "Recurrence",
    "SKIP_REASONS",
    "cancel",
    "create",
    "fail",
    "finish",
    "get",
    "listing",
    "mark_started",
    "members_page",
    "pause",
    "progress",
    "rate",
    "record_counters",
    "results",
    "resume",
    "start",
    "using_segments",
]
