"""Residency: the report (compliance) and the audited transfer (admin + compliance)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from api.deps import AuthorizedActor, PageDep, VaultDep
from api.schemas import IdPath, Report, TransferRequest
from vault.domain import TransferResult
from vault.paging import Page
from vault.residency.sections import ResidencyEntry

router = APIRouter(tags=["residency"])


@router.get("/residency/report", name="residency.report")
def residency_report(actor: AuthorizedActor, vault: VaultDep) -> Report:
    """The signed report: ``document`` (the findings), ``signature``, ``public_key``."""
    report: dict[str, Any] = vault.residency_report(actor=actor).signed()
    return report


RegionPath = Annotated[
    str, Path(pattern=r"^[A-Z0-9]{1,8}$", description="a configured region, e.g. JP")
]


@router.get("/residency/regions/{region}/objects", name="residency.objects")
def residency_objects(
    region: RegionPath, actor: AuthorizedActor, vault: VaultDep, page: PageDep
) -> Page[ResidencyEntry]:
    """The report's object section of one region, a page at a time (not signed)."""
    return vault.residency_objects(region, limit=page.limit, cursor=page.cursor, actor=actor)


@router.get("/residency/regions/{region}/keys", name="residency.keys")
def residency_keys(
    region: RegionPath, actor: AuthorizedActor, vault: VaultDep, page: PageDep
) -> Page[ResidencyEntry]:
    """The report's subject-key section of one region, a page at a time (not signed)."""
    return vault.residency_keys(region, limit=page.limit, cursor=page.cursor, actor=actor)


@router.post("/subjects/{subject_id}/transfer", name="subjects.transfer")
def transfer(
    subject_id: IdPath, body: TransferRequest, actor: AuthorizedActor, vault: VaultDep
) -> TransferResult:
    return vault.transfer_subject(
        subject_id, body.to_region, body.legal_basis, body.evidence_ref, actor=actor
    )
