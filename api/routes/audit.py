"""Audit (compliance): query the log page by page, verify the chain."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api import examples
from api.deps import AuthorizedActor, PageDep, VaultDep
from api.http import TIME_SCHEMA, aware_time
from api.openapi import responses
from api.schemas import ID_PATTERN
from vault.domain import AuditEvent, AuditVerification
from vault.paging import Page

router = APIRouter(prefix="/audit", tags=["audit"])

TimeQuery = Annotated[
    str | None,
    Query(
        max_length=64,
        description="ISO 8601 date and time with a zone",
        json_schema_extra=TIME_SCHEMA,
    ),
]


@router.get(
    "",
    name="audit.query",
    summary="Query the audit log",
    responses=responses(400, 422, example=examples.AUDIT_PAGE),
)
def query(
    actor: AuthorizedActor,
    vault: VaultDep,
    page: PageDep,
    principal: Annotated[
        str | None,
        Query(alias="actor", max_length=200, pattern=r"^[^\x00-\x1f]+$", description="by name"),
    ] = None,
    subject_id: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
    action: Annotated[
        str | None,
        Query(max_length=64, pattern=r"^[a-z_]+\.[a-z_.]+$", description="e.g. record.read"),
    ] = None,
    since: TimeQuery = None,
    until: TimeQuery = None,
    after_seq: Annotated[
        int,
        Query(ge=0, le=2**62, description="start after this event (to resume a tail later)"),
    ] = 0,
) -> Page[AuditEvent]:
    """Events in chain order; follow ``next`` for the next page.

    ``actor`` + ``since`` + ``until`` + ``action=record.read`` answers the breach
    question: which subjects' records did this principal read in that window.
    """
    return vault.audit_page(
        principal=principal,
        subject_id=subject_id,
        action=action,
        since=aware_time(since, "since"),
        until=aware_time(until, "until"),
        after_seq=after_seq,
        limit=page.limit,
        cursor=page.cursor,
        actor=actor,
    )


@router.get(
    "/verify",
    name="audit.verify",
    summary="Verify the audit chain",
    responses=responses(example=examples.AUDIT_VERIFICATION),
)
def verify(actor: AuthorizedActor, vault: VaultDep) -> AuditVerification:
    """The chain link by link and against the newest signed checkpoint (ok false: tampered)."""
    return vault.verify_audit(actor=actor)
