"""Residency: the report (compliance) and the audited transfer (admin + compliance)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.deps import AuthorizedActor, VaultDep
from api.schemas import IdPath, Report, TransferRequest
from vault.domain import TransferResult

router = APIRouter(tags=["residency"])


@router.get("/residency/report", name="residency.report")
def residency_report(actor: AuthorizedActor, vault: VaultDep) -> Report:
    """The signed report: ``document`` (the findings), ``signature``, ``public_key``."""
    report: dict[str, Any] = vault.residency_report(actor=actor).signed()
    return report


@router.post("/subjects/{subject_id}/transfer", name="subjects.transfer")
def transfer(
    subject_id: IdPath, body: TransferRequest, actor: AuthorizedActor, vault: VaultDep
) -> TransferResult:
    return vault.transfer_subject(
        subject_id, body.to_region, body.legal_basis, body.evidence_ref, actor=actor
    )
