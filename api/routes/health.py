"""Liveness, readiness and metrics: no token needed, no secret or identifier in any answer."""

from __future__ import annotations

from collections.abc import Callable

import anyio
import anyio.to_thread
from fastapi import APIRouter, Request, status
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from api import examples
from api.deps import MetricsDep, VaultDep
from api.openapi import responses
from api.schemas import Readiness
from vault.errors import VaultError

router = APIRouter(tags=["health"])

READY_RETRY_AFTER = 5
#: every dependency is checked at once; whatever has not answered by then is "timeout"
READY_TIMEOUT = 3.0


async def check_all(
    checks: dict[str, Callable[[], object]], timeout: float = READY_TIMEOUT
) -> dict[str, str]:
    """Run every check concurrently; component → ``ok``, an error code, or ``timeout``."""
    status_of = dict.fromkeys(checks, "timeout")
    # threads of their own, never tokens of the pool requests use; a hung check is
    # abandoned at the timeout (its thread ends with the client's own timeout)
    threads = anyio.CapacityLimiter(max(1, len(checks)))

    async def run(component: str, check: Callable[[], object]) -> None:
        try:
            await anyio.to_thread.run_sync(check, limiter=threads, abandon_on_cancel=True)
            status_of[component] = "ok"
        except VaultError as exc:
            status_of[component] = exc.code
        except Exception:
            status_of[component] = "error"

    with anyio.move_on_after(timeout):
        async with anyio.create_task_group() as group:
            for component, check in checks.items():
                group.start_soon(run, component, check)
    return status_of


@router.get(
    "/healthz",
    name="healthz",
    summary="Check liveness",
    responses=responses(public=True, example=examples.HEALTH),
)
async def healthz() -> dict[str, str]:
    """The process is alive and serving."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    name="readyz",
    summary="Check readiness",
    response_model=Readiness,
    responses={
        200: {"content": {"application/json": {"example": examples.READY}}},
        503: {
            "model": Readiness,
            "description": "a dependency is down (Retry-After)",
            "headers": {"Retry-After": {"required": True, "schema": {"type": "string"}}},
            "content": {"application/json": {"example": examples.NOT_READY}},
        },
    },
)
async def readyz(vault: VaultDep, request: Request) -> JSONResponse:
    """The DB, and each region's key provider and store, answer (checked at once).

    ``audit_checkpoint`` says what this process's last checkpoint attempt found
    (``chain-broken``: the audit chain was tampered with); it is a detail for
    monitoring, not a reason to take the API out of service.
    """
    checks = await check_all(vault.readiness_checks())
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


@router.get(
    "/metrics",
    name="metrics",
    summary="Read Prometheus metrics",
    response_class=Response,
    responses={
        200: {
            "content": {"text/plain": {"example": examples.METRICS}},
            "description": "the Prometheus text format",
        }
    },
)
def metrics(metrics: MetricsDep) -> Response:
    """Requests, bytes, durations, key-service calls, rotations and sweeps; no identifier."""
    return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)
