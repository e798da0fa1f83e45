"""Legal holds (admin): place, release, list."""

from __future__ import annotations

from fastapi import APIRouter, status

from api.deps import AuthorizedActor, VaultDep
from api.schemas import HoldCreate, HoldRelease, IdPath
from vault.domain import Hold

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
def list_holds(actor: AuthorizedActor, vault: VaultDep, active_only: bool = False) -> list[Hold]:
    holds = vault.list_holds(active_only=active_only, actor=actor)
    return [h for h in holds]
