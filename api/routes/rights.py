"""Subjects' rights (DPO): erasure requests, restriction, export."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import BinaryIO, cast

from fastapi import APIRouter, Response, status
from fastapi.responses import StreamingResponse

from api import examples
from api.deps import AuthorizedActor, VaultDep
from api.exports import PipeWriter, run_export
from api.openapi import responses
from api.schemas import IdPath
from vault.domain import ErasureDecision

router = APIRouter(tags=["subject rights"])


@router.post(
    "/subjects/{subject_id}/erasure",
    name="erasure.request",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Request erasure of a subject",
    responses=responses(404, 409, 410, 422, example=examples.ERASURE, status=202),
)
def request_erasure(subject_id: IdPath, actor: AuthorizedActor, vault: VaultDep) -> ErasureDecision:
    """Accepted: erasure is scheduled after the waiting period, or deferred with reasons.

    ``scheduled``: the subject key is destroyed (crypto-shredding) at ``earliest``
    unless security cancels it. ``deferred``: records must still be kept
    (retention, a legal hold); ``reasons`` say which and until when, and the sweep
    erases the subject once nothing holds it any more.
    """
    return vault.request_erasure(subject_id, actor=actor)


@router.get(
    "/subjects/{subject_id}/erasure",
    name="erasure.status",
    summary="Read the status of a subject's erasure request",
    responses=responses(404, 422, example=examples.ERASURE),
)
def erasure_status(subject_id: IdPath, actor: AuthorizedActor, vault: VaultDep) -> ErasureDecision:
    """The latest erasure request of the subject; ``status`` is ``none`` when none was made."""
    return vault.erasure_status(subject_id, actor=actor)


@router.post(
    "/subjects/{subject_id}/restriction",
    name="restriction.set",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Restrict processing of a subject",
    responses=responses(404, 410, 422),
)
def restrict(subject_id: IdPath, actor: AuthorizedActor, vault: VaultDep) -> Response:
    """From now on every read and write of the subject's records is refused (403), except by
    the DPO; the subject's records are not disposed of while it is restricted."""
    vault.restrict(subject_id, actor=actor)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete(
    "/subjects/{subject_id}/restriction",
    name="restriction.clear",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Lift the restriction of a subject",
    responses=responses(404, 410, 422),
)
def unrestrict(subject_id: IdPath, actor: AuthorizedActor, vault: VaultDep) -> Response:
    """Processing of the subject's records is allowed again."""
    vault.unrestrict(subject_id, actor=actor)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/subjects/{subject_id}/export",
    name="subjects.export",
    response_class=StreamingResponse,
    summary="Export a subject's data (zip)",
    responses={
        200: {
            "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
            "description": "records + manifest",
        },
        **responses(404, 410, 422),
    },
)
async def export_subject(
    subject_id: IdPath, actor: AuthorizedActor, vault: VaultDep
) -> StreamingResponse:
    """Right of access: one zip, streamed, with every version of every record and a
    ``manifest.json`` that lists them (category, version, content type, dates)."""

    def write(out: PipeWriter) -> object:
        return vault.export_subject(subject_id, cast(BinaryIO, out), actor=actor)

    body: AsyncIterator[bytes] = await run_export(write)
    return StreamingResponse(
        body,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="subject-{subject_id}.zip"'},
    )
