"""The console's pages, one module per page; ``router`` collects them under ``/console``."""

from __future__ import annotations

from fastapi import APIRouter

from api.console.pages import (
    audit,
    destructions,
    disposal,
    holds,
    keys,
    residency,
    signin,
    subjects,
)
from api.console.web import PREFIX, ConsoleRoute

router = APIRouter(prefix=PREFIX, route_class=ConsoleRoute, include_in_schema=False)
for module in (signin, subjects, holds, destructions, disposal, residency, audit, keys):
    router.include_router(module.router)

__all__ = ["router"]
