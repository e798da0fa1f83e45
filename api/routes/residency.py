"""Residency: the report (compliance) and the audited transfer (admin + compliance)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api import examples
from api.deps import AuthorizedActor, VaultDep
from api.openapi import responses
from api.schemas import IdPath, Report, TransferRequest
from vault.domain import TransferResult

router = APIRouter(tags=["residency"])


@router.get(
    "/residency/report",
    name="residency.report",
    summary="Prove residency (signed report)",
    responses=responses(example=examples.RESIDENCY),
)
def residency_report(actor: AuthorizedActor, vault: VaultDep) -> Report:
    """The signed report: ``document`` (the findings), ``signature``, ``public_key``.

    Per region: the store's location against the expected one, every object and
    subject key accounted for in its own region and absent from the others.
    ``ok`` false lists each violation.
    """
    report: dict[str, Any] = vault.residency_report(actor=actor).signed()
    return report


@router.post(
    "/subjects/{subject_id}/transfer",
    name="subjects.transfer",
    summary="Transfer a subject to another region",
    responses=responses(400, 404, 409, 410, 413, 422, example=examples.TRANSFER),
)
def transfer(
    subject_id: IdPath, body: TransferRequest, actor: AuthorizedActor, vault: VaultDep
) -> TransferResult:
    """Move every record and the key of a subject to ``to_region``, with its legal basis.

    Needs one principal holding both admin and compliance. Audited with the legal
    basis and evidence; refused (409) while a legal hold covers the subject or its
    erasure or another transfer is under way.
    """
    return vault.transfer_subject(
        subject_id, body.to_region, body.legal_basis, body.evidence_ref, actor=actor
    )
