"""Legal holds (admin): place, release, list."""

from __future__ import annotations

from fastapi import APIRouter, status

from api.deps import AuthorizedActor, PageDep, VaultDep
from api.schemas import HoldCreate, HoldRelease, IdPath
from vault.domain import Hold
from vault.paging import Page

router = APIRouter(tags=["holds"])


@router.post("/holds", name="holds.place", status_code=status.HTTP_201_CREATED)
def place_hold(body: HoldCreate, actor: AuthorizedActor, vault: VaultDep) -> Hold:
    hold = vault.place_hold(body.scope, body.target_id, body.case_ref, body.reason, actor=actor)
    return hold


@router.post("/holds/{hold_id}/release", name="holds.release")
def release_hold(
    hold_id: IdPath, body: HoldRelease, actor: AuthorizedActor, vault: VaultDep
) -> Hold:
    return vault.release_hold(hold_id, body.reason, actor=actor)


@router.get("/holds", name="holds.list")
def list_holds(
    actor: AuthorizedActor, vault: VaultDep, page: PageDep, active_only: bool = False
) -> Page[Hold]:
    return vault.holds_page(
        active_only=active_only, limit=page.limit, cursor=page.cursor, actor=actor
    )
