"""Subjects' rights (DPO): erasure requests, restriction, export."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import BinaryIO, cast

from fastapi import APIRouter, Response, status
from fastapi.responses import StreamingResponse

from api.deps import AuthorizedActor, VaultDep
from api.schemas import IdPath
from api.streaming import PipeWriter, run_export
from vault.domain import ErasureDecision

router = APIRouter(tags=["subject rights"])


@router.post(
    "/subjects/{subject_id}/erasure",
    name="erasure.request",
    status_code=status.HTTP_202_ACCEPTED,
)
def request_erasure(subject_id: IdPath, actor: AuthorizedActor, vault: VaultDep) -> ErasureDecision:
    """Accepted: erasure is scheduled after the waiting period, or deferred with reasons."""
    return vault.request_erasure(subject_id, actor=actor)


@router.get("/subjects/{subject_id}/erasure", name="erasure.status")
def erasure_status(subject_id: IdPath, actor: AuthorizedActor, vault: VaultDep) -> ErasureDecision:
    return vault.erasure_status(subject_id, actor=actor)


@router.post(
    "/subjects/{subject_id}/restriction",
    name="restriction.set",
    status_code=status.HTTP_204_NO_CONTENT,
)
def restrict(subject_id: IdPath, actor: AuthorizedActor, vault: VaultDep) -> Response:
    vault.restrict(subject_id, actor=actor)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete(
    "/subjects/{subject_id}/restriction",
    name="restriction.clear",
    status_code=status.HTTP_204_NO_CONTENT,
)
def unrestrict(subject_id: IdPath, actor: AuthorizedActor, vault: VaultDep) -> Response:
    vault.unrestrict(subject_id, actor=actor)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/subjects/{subject_id}/export",
    name="subjects.export",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/zip": {}}, "description": "records + manifest"}},
)
async def export_subject(
    subject_id: IdPath, actor: AuthorizedActor, vault: VaultDep
) -> StreamingResponse:
    def write(out: PipeWriter) -> object:
        return vault.export_subject(subject_id, cast(BinaryIO, out), actor=actor)

    body: AsyncIterator[bytes] = await run_export(write)
    return StreamingResponse(
        body,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="subject-{subject_id}.zip"'},
    )
