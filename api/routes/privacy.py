"""Privacy: erase a member (the right to be forgotten) and export everything held about them (an access
request). Admin only; both audited. See docs/privacy.md."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from api.boundary import commit
from api.deps import AdminKey, SessionDep, TemporalDep
from api.schemas.common import ERROR_RESPONSES
from api.schemas.privacy import ErasureOut, MemberExportOut
from services import privacy
from services.platform.audit import Actor
from services.privacy.erasure import ErasureRequest

router = APIRouter(prefix="/api/v1/members", tags=["privacy"], responses=ERROR_RESPONSES)


@router.delete(
    "/{member_id}",
    response_model=ErasureOut,
    summary="Erase a member: personal data removed or pseudonymised, workflows stopped, messages suppressed",
)
async def erase_member(
    member_id: uuid.UUID, body: ErasureRequest, session: SessionDep, key: AdminKey, temporal: TemporalDep
) -> ErasureOut:
    """Irreversible. Orders, the ledger and coupons stay under the member id. Erasing again is allowed (200,
    `already_erased`): it scrubs anything written since and retries stopping workflows."""
    outcome = await privacy.erase(session, member_id, body, actor=Actor.of_key(key))
    await commit(session)
    return ErasureOut.of(await privacy.stop_workflows(temporal, outcome))


@router.get("/{member_id}/export", response_model=MemberExportOut, summary="Everything held about a member, as JSON")
async def export_member(member_id: uuid.UUID, session: SessionDep, key: AdminKey) -> MemberExportOut:
    document = await privacy.export(session, member_id, actor=Actor.of_key(key))
    await commit(session)
    return MemberExportOut.model_validate(document)
