"""The recvault HTTP API: ``create_app(vault)``, and ``build`` for ``uvicorn --factory``.

``uvicorn api.app:build --factory`` (or ``recvault serve``) builds the vault from
``Settings.load()`` (``$RECVAULT_CONFIG`` and ``RECVAULT_*``), with the key
service's call latency wired into the metrics.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api import console, oidc_login, openapi, problems, server
from api.headers import SecurityHeaders
from api.limits import BodyIdleTimeout, JsonBodyLimit
from api.logs import RequestContext
from api.metrics import ApiMetrics
from api.routes import v1
from api.routes.health import router as health_router
from api.streaming import UploadGate
from vault.audit.schedule import CheckpointSchedule, interval_seconds
from vault.domain import Actor, Role
from vault.service import RecordVault
from vault.settings import Settings
from vault.storage import tune_process

DESCRIPTION = (
    "Encrypted, region-pinned records vault for clinical treatment records. "
    "Every /v1 route needs `Authorization: Bearer <token>`; errors are "
    "`application/problem+json`. See docs/api.md."
)
#: who signs the API process's periodic audit checkpoints
CHECKPOINTER = Actor("audit-checkpoints", frozenset({Role.COMPLIANCE}))


def create_app(vault: RecordVault, metrics: ApiMetrics | None = None) -> FastAPI:
    """An app serving ``vault``; the caller keeps ownership of the vault (and closes it)."""
    # FastAPI's own /docs and /redoc load their assets from a CDN: api.openapi serves both
    # pages from a package's assets instead (and documents every problem response).
    app = FastAPI(
        title="recvault", version="1", description=DESCRIPTION, docs_url=None, redoc_url=None
    )
    app.state.vault = vault
    app.state.metrics = metrics or ApiMetrics()
    #: the periodic audit checkpoints of this process (set by ``build``; read by /readyz)
    app.state.audit_checkpoints = None
    limits = vault.settings.limits
    idle = limits.body_idle_timeout.approx_timedelta().total_seconds()
    app.state.upload_gate = UploadGate(limits.upload_concurrency, wait=idle)
    problems.install(app)
    openapi.install(app, vault.settings)
    app.include_router(health_router)
    app.include_router(v1)
    console.install(app, vault)
    oidc_login.install(app, vault)  # [auth.oidc]: JWT access tokens and console sign-in
    console.connect_single_sign_on(app, vault)
    # innermost: an unexpected error's 500 passes through the layers below like any answer
    app.add_middleware(problems.UnexpectedErrors)
    app.add_middleware(BodyIdleTimeout, idle_seconds=idle, min_rate=limits.body_min_rate)
    app.add_middleware(JsonBodyLimit)
    app.add_middleware(SecurityHeaders)
    # outermost: its access line and metrics see every status
    app.add_middleware(RequestContext, metrics=app.state.metrics)
    return app


def build() -> FastAPI:
    """Factory for uvicorn: the vault from the environment's settings, closed at shutdown."""
    metrics = ApiMetrics()
    settings = Settings.load()
    tune_process(settings.limits.tune_allocator)
    server.configure(settings.limits)
    vault = RecordVault.from_settings(settings, key_observer=metrics.observe_key_call)
    app = create_app(vault, metrics)
    schedule = CheckpointSchedule(
        lambda: vault.audit_checkpoint(actor=CHECKPOINTER, only_if_new=True),
        interval_seconds(settings.audit.checkpoint_interval),
    )
    app.state.audit_checkpoints = schedule

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        schedule.start()
        try:
            yield
        finally:
            schedule.stop()
            vault.close()

    app.router.lifespan_context = lifespan
    return app
