"""One router per resource; ``v1`` collects them behind the authorization dependency."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from api.deps import authorize
from api.routes import audit, holds, keys, records, residency, retention, rights, subjects

v1 = APIRouter(prefix="/v1", dependencies=[Depends(authorize)])
for module in (subjects, records, holds, rights, keys, retention, residency, audit):
    v1.include_router(module.router)

__all__ = ["v1"]
