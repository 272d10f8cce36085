"""Segments: saved member filters, their SQL, and RFM scores."""

from services.segments.filter import (
    MAX_CONDITIONS,
    MAX_DEPTH,
)
from services.segments.rfm import (
    rfm_scores,
    rfm_summary,
)
from services.segments.service import (
    FIELD_PREFIX,
    MAX_JSON_DEPTH,
    MAX_SAMPLE,
    Description,
    Preview,
    PreviewMember,
    SegmentCreate,
    SegmentName,
    check,
    create,
    definition_of,
    delete,
    get,
    list_segments,
    member_query,
    parse,
    preview,
    update,
)

__all__ = [
    "Description",
    "FIELD_PREFIX",
    "MAX_CONDITIONS",
    "MAX_DEPTH",
    "MAX_JSON_DEPTH",
    "MAX_SAMPLE",
    "Preview",
    "PreviewMember",
    "SegmentCreate",
    "SegmentName",
    "check",
    "create",
    "definition_of",
    "delete",
    "get",
    "list_segments",
    "member_query",
    "parse",
    "preview",
    "rfm_scores",
    "rfm_summary",
    "update",
]
