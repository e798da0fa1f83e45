"""Subjects: create (idempotent per clinic reference) and read metadata."""

from __future__ import annotations

from fastapi import APIRouter, Response, status
from fastapi.concurrency import run_in_threadpool

from api import examples
from api.deps import AuthorizedActor, VaultDep
from api.openapi import responses
from api.schemas import IdPath, SubjectCreate
from vault.domain import Subject

router = APIRouter(tags=["subjects"])


@router.post(
    "/subjects",
    name="subjects.create",
    status_code=status.HTTP_201_CREATED,
    summary="Create a subject (or return the existing one)",
    response_description="the subject was created, with its own key in its region",
    responses={
        200: {
            "model": Subject,
            "description": "the subject already existed for this reference in this region",
            "content": {"application/json": {"example": examples.SUBJECT}},
        },
        **responses(400, 413, 422, example=examples.SUBJECT, status=201),
    },
)
async def create_subject(
    body: SubjectCreate, response: Response, actor: AuthorizedActor, vault: VaultDep
) -> Subject:
    """A data subject (a patient), pinned to ``region`` for life; its key is made there.

    Idempotent per clinic reference within a region: the same ``external_ref``
    and ``region`` answer 200 with the subject made earlier. The reference is
    kept only as an HMAC. 400: the region is not configured on this server.
    """
    subject, created = await run_in_threadpool(
        vault.create_subject_ex, body.external_ref, body.region, actor=actor
    )
    if not created:
        response.status_code = status.HTTP_200_OK
    return subject


@router.get(
    "/subjects/{subject_id}",
    name="subjects.get",
    summary="Read a subject's metadata",
    responses=responses(404, 422, example=examples.SUBJECT),
)
def get_subject(subject_id: IdPath, actor: AuthorizedActor, vault: VaultDep) -> Subject:
    """Region, state, restriction and key name of a subject (metadata: not processing)."""
    return vault.get_subject(subject_id, actor=actor)
