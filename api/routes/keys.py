"""Keys (security): rotation, inventory, and the destruction window (security, compliance)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.deps import AuthorizedActor, MetricsDep, PageDep, VaultDep
from api.schemas import IdPath, Report, RotateRequest
from vault.domain import Destruction, DestructionState, to_json
from vault.paging import Page

router = APIRouter(prefix="/keys", tags=["keys"])


@router.post("/rotate", name="keys.rotate")
def rotate(
    body: RotateRequest, actor: AuthorizedActor, vault: VaultDep, metrics: MetricsDep
) -> Report:
    report: dict[str, Any] = to_json(vault.rotate_keys(body.region, body.subject_id, actor=actor))
    metrics.count_rotation(report)
    return report


@router.get("/status", name="keys.status")
def key_status(actor: AuthorizedActor, vault: VaultDep) -> Report:
    status: dict[str, Any] = to_json(vault.key_status(actor=actor))
    return status


@router.get("/destructions", name="destructions.list")
def list_destructions(
    actor: AuthorizedActor,
    vault: VaultDep,
    page: PageDep,
    state: DestructionState | None = None,
) -> Page[Destruction]:
    return vault.destructions_page(state, limit=page.limit, cursor=page.cursor, actor=actor)


@router.post("/destructions/{destruction_id}/cancel", name="destructions.cancel")
def cancel_destruction(
    destruction_id: IdPath, actor: AuthorizedActor, vault: VaultDep
) -> Destruction:
    return vault.cancel_destruction(destruction_id, actor=actor)


@router.get("/destructions/{destruction_id}/certificate", name="destructions.certificate")
def certificate(destruction_id: IdPath, actor: AuthorizedActor, vault: VaultDep) -> Report:
    """The signed destruction certificate (JSON, verifiable offline)."""
    return vault.destruction_certificate(destruction_id, actor=actor)
