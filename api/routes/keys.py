"""Keys (security): rotation, inventory, and the destruction window (security, compliance)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api import examples
from api.deps import AuthorizedActor, MetricsDep, PageDep, VaultDep
from api.openapi import responses
from api.schemas import IdPath, Report, RotateRequest
from vault.domain import Destruction, DestructionState, to_json
from vault.paging import Page

router = APIRouter(prefix="/keys", tags=["keys"])


@router.post(
    "/rotate",
    name="keys.rotate",
    summary="Rotate subject keys",
    responses=responses(400, 404, 410, 413, 422, example=examples.ROTATION),
)
def rotate(
    body: RotateRequest, actor: AuthorizedActor, vault: VaultDep, metrics: MetricsDep
) -> Report:
    """Rotate the key of one subject, the keys of one region, or every live subject key.

    Each key gets a new version in Vault Transit, the subject's wrapped data keys
    are rewrapped in batches and older versions stop decrypting. No object is
    rewritten. ``failures`` lists keys that could not be finished (retried later).
    """
    report: dict[str, Any] = to_json(vault.rotate_keys(body.region, body.subject_id, actor=actor))
    metrics.count_rotation(report)
    return report


@router.get(
    "/status",
    name="keys.status",
    summary="Key inventory and rotation status",
    responses=responses(example=examples.KEY_STATUS),
)
def key_status(actor: AuthorizedActor, vault: VaultDep) -> Report:
    """Per region: subject keys, key versions in use, keys past ``rotation.max_age``,
    rotations open or failed, and key destructions pending."""
    status: dict[str, Any] = to_json(vault.key_status(actor=actor))
    return status


@router.get(
    "/destructions",
    name="destructions.list",
    summary="List key destructions",
    responses=responses(400, 422, example=examples.page(examples.DESTRUCTION)),
)
def list_destructions(
    actor: AuthorizedActor,
    vault: VaultDep,
    page: PageDep,
    state: DestructionState | None = None,
) -> Page[Destruction]:
    """Scheduled, cancelled and executed destructions of subject keys (``state`` filters),
    a page at a time: follow ``next``."""
    return vault.destructions_page(state, limit=page.limit, cursor=page.cursor, actor=actor)


@router.post(
    "/destructions/{destruction_id}/cancel",
    name="destructions.cancel",
    summary="Cancel a scheduled key destruction",
    responses=responses(404, 409, 422, example=examples.DESTRUCTION_CANCELLED),
)
def cancel_destruction(
    destruction_id: IdPath, actor: AuthorizedActor, vault: VaultDep
) -> Destruction:
    """Stop a destruction during its waiting period (409 once it was executed)."""
    return vault.cancel_destruction(destruction_id, actor=actor)


@router.get(
    "/destructions/{destruction_id}/certificate",
    name="destructions.certificate",
    summary="Read the certificate of an executed key destruction",
    responses=responses(404, 409, 422, example=examples.CERTIFICATE),
)
def certificate(destruction_id: IdPath, actor: AuthorizedActor, vault: VaultDep) -> Report:
    """The signed destruction certificate (JSON, verifiable offline with ``public_key``).

    409 while the destruction is not executed (scheduled or cancelled).
    """
    return vault.destruction_certificate(destruction_id, actor=actor)
