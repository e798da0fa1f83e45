"""Subjects: create (idempotent per clinic reference) and read metadata."""

from __future__ import annotations

from fastapi import APIRouter, Response, status
from fastapi.concurrency import run_in_threadpool

from api.deps import AuthorizedActor, VaultDep
from api.schemas import IdPath, SubjectCreate
from vault.domain import Subject

router = APIRouter(tags=["subjects"])


@router.post(
    "/subjects",
    name="subjects.create",
    status_code=status.HTTP_201_CREATED,
    responses={200: {"model": Subject, "description": "the subject already existed"}},
)
async def create_subject(
    body: SubjectCreate, response: Response, actor: AuthorizedActor, vault: VaultDep
) -> Subject:
    subject, created = await run_in_threadpool(
        vault.create_subject_ex, body.external_ref, body.region, actor=actor
    )
    if not created:
        response.status_code = status.HTTP_200_OK
    return subject


@router.get("/subjects/{subject_id}", name="subjects.get")
def get_subject(subject_id: IdPath, actor: AuthorizedActor, vault: VaultDep) -> Subject:
    return vault.get_subject(subject_id, actor=actor)
