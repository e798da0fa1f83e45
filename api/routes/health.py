"""Liveness, readiness and metrics: no token needed, no secret or identifier in any answer."""

from __future__ import annotations

from fastapi import APIRouter, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from api.deps import MetricsDep, VaultDep
from api.schemas import Readiness

router = APIRouter(tags=["health"])

READY_RETRY_AFTER = 5


@router.get("/healthz", name="healthz")
async def healthz() -> dict[str, str]:
    """The process is alive and serving."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    name="readyz",
    responses={503: {"model": Readiness, "description": "a dependency is down"}},
)
async def readyz(vault: VaultDep, request: Request) -> JSONResponse:
    """The DB, and each region's key provider and store, answer.

    ``audit_checkpoint`` says what this process's last checkpoint attempt found
    (``chain-broken``: the audit chain was tampered with); it is a detail for
    monitoring, not a reason to take the API out of service.
    """
    checks = await run_in_threadpool(vault.readiness)
    ready = all(v == "ok" for v in checks.values())
    schedule = getattr(request.app.state, "audit_checkpoints", None)
    body = Readiness(
        status="ok" if ready else "unavailable",
        checks=checks,
        audit_checkpoint=schedule.state if schedule is not None else None,
    )
    return JSONResponse(
        body.model_dump(),
        status_code=status.HTTP_200_OK if ready else status.HTTP_503_SERVICE_UNAVAILABLE,
        headers=None if ready else {"Retry-After": str(READY_RETRY_AFTER)},
    )


@router.get("/metrics", name="metrics", response_class=Response)
def metrics(metrics: MetricsDep) -> Response:
    return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)
