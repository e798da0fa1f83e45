"""Retention (compliance): the disposal plan and the sweep."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api import examples
from api.deps import AuthorizedActor, MetricsDep, PageDep, VaultDep
from api.http import TIME_SCHEMA, aware_time
from api.openapi import responses
from api.schemas import ApprovalRequest, ApprovalResult
from vault.domain import DisposalPlan, SweepResult, to_json

router = APIRouter(prefix="/retention", tags=["retention"])


@router.get(
    "/plan",
    name="retention.plan",
    summary="Plan disposal (what a sweep would do)",
    responses=responses(400, 422, example=examples.PLAN),
)
def plan(
    actor: AuthorizedActor,
    vault: VaultDep,
    page: PageDep,
    as_of: Annotated[
        str | None,
        Query(
            max_length=64,
            description="ISO 8601 date and time with a zone; a time without one is refused",
            json_schema_extra=TIME_SCHEMA,
        ),
    ] = None,
) -> DisposalPlan:
    """Each record or subject past retention, and whether it may go: ``action`` says what
    the sweep does, ``reasons`` what keeps it (a legal hold, a restriction). Nothing changes.
    A page at a time: every page of one walk is as of the first page's time."""
    return vault.plan_disposal_page(
        aware_time(as_of, "as_of"), limit=page.limit, cursor=page.cursor, actor=actor
    )


@router.post(
    "/approvals",
    name="retention.approve",
    summary="Approve disposals (review mode)",
    responses=responses(400, 413, 422, example=examples.APPROVAL),
)
def approve(body: ApprovalRequest, actor: AuthorizedActor, vault: VaultDep) -> ApprovalResult:
    """Approve listed disposals of the current plan (review mode); returns how many.

    Ids not in the plan, or not disposable, are ignored.
    """
    count, plan = vault.approve_disposal_items(body.ids, actor=actor)
    return ApprovalResult(approved=count, review=plan.review)


@router.post(
    "/sweep",
    name="retention.sweep",
    summary="Run the disposal sweep now",
    responses=responses(example=examples.SWEEP),
)
def sweep(actor: AuthorizedActor, vault: VaultDep, metrics: MetricsDep) -> SweepResult:
    """Dispose of what the plan allows: erase records, schedule and execute key
    destructions whose waiting period is over. Idempotent; workers run it on a schedule."""
    result = vault.sweep(actor=actor)
    metrics.count_sweep(to_json(result))
    return result
