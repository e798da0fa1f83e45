"""Retention (compliance): the disposal plan and the sweep."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import AuthorizedActor, MetricsDep, PageDep, VaultDep
from api.http import aware_time
from api.schemas import ApprovalRequest, ApprovalResult
from vault.domain import DisposalPlan, SweepResult, to_json

router = APIRouter(prefix="/retention", tags=["retention"])


@router.get("/plan", name="retention.plan")
def plan(
    actor: AuthorizedActor,
    vault: VaultDep,
    page: PageDep,
    as_of: Annotated[
        str | None,
        Query(
            max_length=64,
            description="ISO 8601 date and time with a zone; a time without one is refused",
        ),
    ] = None,
) -> DisposalPlan:
    """A page of the plan; every page of one walk is as of the first page's time."""
    return vault.plan_disposal_page(
        aware_time(as_of, "as_of"), limit=page.limit, cursor=page.cursor, actor=actor
    )


@router.post("/approvals", name="retention.approve")
def approve(body: ApprovalRequest, actor: AuthorizedActor, vault: VaultDep) -> ApprovalResult:
    """Approve listed disposals of the current plan (review mode); returns how many."""
    plan = vault.plan_disposal(actor=actor)
    count = vault.approve_disposal(plan, body.ids, actor=actor)
    return ApprovalResult(approved=count, review=plan.review)


@router.post("/sweep", name="retention.sweep")
def sweep(actor: AuthorizedActor, vault: VaultDep, metrics: MetricsDep) -> SweepResult:
    result = vault.sweep(actor=actor)
    metrics.count_sweep(to_json(result))
    return result
