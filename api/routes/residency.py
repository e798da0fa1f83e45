"""Residency: the report (compliance) and the audited transfer (admin + compliance)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from api import examples
from api.deps import AuthorizedActor, PageDep, VaultDep
from api.openapi import REGION_MARK, responses
from api.schemas import IdPath, Report, TransferRequest
from vault.domain import TransferResult
from vault.paging import Page
from vault.residency.sections import ResidencyEntry

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


#: the OpenAPI document lists the configured regions as its values (api.openapi.REGION_MARK)
RegionPath = Annotated[
    str,
    Path(
        pattern=r"^[A-Z0-9]{1,8}$",
        description="a configured region, e.g. JP",
        examples=["JP"],
        json_schema_extra={REGION_MARK: True},
    ),
]


@router.get(
    "/residency/regions/{region}/objects",
    name="residency.objects",
    summary="Walk a region's objects, as the residency report sees them",
    responses=responses(400, 404, 422, example=examples.page(examples.RESIDENCY_OBJECT)),
)
def residency_objects(
    region: RegionPath, actor: AuthorizedActor, vault: VaultDep, page: PageDep
) -> Page[ResidencyEntry]:
    """The report's object section of one region, a page at a time (not signed: the
    signed report is the proof; this lets compliance walk every entry)."""
    return vault.residency_objects(region, limit=page.limit, cursor=page.cursor, actor=actor)


@router.get(
    "/residency/regions/{region}/keys",
    name="residency.keys",
    summary="Walk a region's subject keys, as the residency report sees them",
    responses=responses(400, 404, 422, example=examples.page(examples.RESIDENCY_KEY)),
)
def residency_keys(
    region: RegionPath, actor: AuthorizedActor, vault: VaultDep, page: PageDep
) -> Page[ResidencyEntry]:
    """The report's subject-key section of one region, a page at a time (not signed)."""
    return vault.residency_keys(region, limit=page.limit, cursor=page.cursor, actor=actor)


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
