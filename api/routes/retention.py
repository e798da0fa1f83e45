"""Retention (compliance): the disposal plan and the sweep."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import AuthorizedActor, MetricsDep, VaultDep
from api.http import aware_time
from vault.domain import DisposalPlan, SweepResult, to_json

router = APIRouter(prefix="/retention", tags=["retention"])


@router.get("/plan", name="retention.plan")
def plan(
    actor: AuthorizedActor,
    vault: VaultDep,
    as_of: Annotated[
        str | None,
        Query(
            max_length=64,
            description="ISO 8601 date and time with a zone; a time without one is refused",
        ),
    ] = None,
) -> DisposalPlan:
    return vault.plan_disposal(aware_time(as_of, "as_of"), actor=actor)


@router.post("/sweep", name="retention.sweep")
def sweep(actor: AuthorizedActor, vault: VaultDep, metrics: MetricsDep) -> SweepResult:
    result = vault.sweep(actor=actor)
    metrics.count_sweep(to_json(result))
    return result
