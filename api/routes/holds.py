"""Legal holds (admin): place, release, list."""

from __future__ import annotations

from fastapi import APIRouter, status

from api import examples
from api.deps import AuthorizedActor, PageDep, VaultDep
from api.openapi import responses
from api.schemas import HoldCreate, HoldRelease, IdPath
from vault.domain import Hold
from vault.paging import Page

router = APIRouter(tags=["holds"])


@router.post(
    "/holds",
    name="holds.place",
    status_code=status.HTTP_201_CREATED,
    summary="Place a legal hold",
    responses=responses(400, 404, 409, 410, 413, 422, example=examples.HOLD, status=201),
)
def place_hold(body: HoldCreate, actor: AuthorizedActor, vault: VaultDep) -> Hold:
    """Keep a subject (every record) or one record beyond retention until the hold is released.

    A case reference and a reason are required. While any hold covers it,
    nothing is disposed of and an erasure request is deferred.
    """
    hold = vault.place_hold(body.scope, body.target_id, body.case_ref, body.reason, actor=actor)
    return hold


@router.post(
    "/holds/{hold_id}/release",
    name="holds.release",
    summary="Release a legal hold",
    responses=responses(400, 404, 409, 413, 422, example=examples.HOLD_RELEASED),
)
def release_hold(
    hold_id: IdPath, body: HoldRelease, actor: AuthorizedActor, vault: VaultDep
) -> Hold:
    """End a hold, with a reason; released by another admin than the one who placed it (403).

    409: the hold was already released.
    """
    return vault.release_hold(hold_id, body.reason, actor=actor)


@router.get(
    "/holds",
    name="holds.list",
    summary="List legal holds",
    responses=responses(400, 422, example=examples.page(examples.HOLD)),
)
def list_holds(
    actor: AuthorizedActor, vault: VaultDep, page: PageDep, active_only: bool = False
) -> Page[Hold]:
    """Holds in the regions granted to you (``active_only``: only those not released),
    a page at a time: follow ``next``."""
    return vault.holds_page(
        active_only=active_only, limit=page.limit, cursor=page.cursor, actor=actor
    )
