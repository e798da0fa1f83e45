"""Keys (security): inventory by region, key ages against the rotation period, rotation.

A rotation runs in a thread of the API process (``api.console.rotations``); the page
follows it (htmx polls ``/console/keys/progress``) through the
inventory's open jobs and DEKs awaiting rewrap, then shows the run's report.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from api.console.charts import BarChart, bar_chart
from api.console.rotations import RotationRun
from api.console.web import (
    PREFIX,
    CheckedForm,
    Console,
    ConsoleDep,
    ConsoleRoute,
    Signed,
    page_headers,
    render,
    require,
)
from vault.domain import Actor
from vault.errors import InvalidInput
from vault.rotation.inventory import KeyStatus

router = APIRouter(route_class=ConsoleRoute)


def age_chart(status: KeyStatus, max_age_days: float) -> BarChart:
    rows = []
    for name, region in sorted(status.regions.items()):
        age = round(region.oldest_version_in_use_age_days or 0.0, 1)
        css = "refused" if age >= max_age_days else "ok"
        rows.append((name, [("days, oldest key version in use", age, css)]))
    return bar_chart(
        "key-ages",
        "Key ages against the rotation period",
        f"Age in days of the oldest subject key version in use per region; the line is the "
        f"rotation period ({status.max_age}). Bars past it are due.",
        rows,
        limit=max_age_days,
        limit_label=f"rotation period {status.max_age}",
        unit=" d",
        height=200,
    )


def _visible_runs(console: Console, actor: Actor) -> list[RotationRun]:
    runs = console.rotations.runs
    return [run for name, run in sorted(runs.items()) if actor.may_access_region(name)]


@router.get("/keys", name="console.keys")
def keys(request: Request, session: Signed, console: ConsoleDep) -> Response:
    actor = session.actor
    require(console, actor, "keys.status")
    status = console.vault.key_status(actor=actor)
    max_days = console.vault.settings.rotation.max_age.approx_timedelta().total_seconds() / 86400
    return render(
        request,
        "keys.html",
        session,
        inventory=status,
        chart=age_chart(status, max_days),
        runs=_visible_runs(console, actor),
    )


@router.get("/keys/progress", name="console.keys_progress")
def progress(request: Request, session: Signed, console: ConsoleDep) -> Response:
    require(console, session.actor, "keys.status")
    status = console.vault.key_status(actor=session.actor)
    return render(
        request,
        "keys_progress.html",
        session,
        inventory=status,
        runs=_visible_runs(console, session.actor),
    )


@router.get("/keys/rotate", name="console.rotate_confirm")
def confirm_rotate(
    request: Request, session: Signed, console: ConsoleDep, region: str = ""
) -> Response:
    require(console, session.actor, "keys.rotate")
    status = console.vault.key_status(actor=session.actor)
    if region not in status.regions:
        raise InvalidInput("choose one of your regions to rotate")
    return render(request, "keys_rotate.html", session, region=status.regions[region])


@router.post("/keys/rotate", name="console.rotate")
def rotate(session: Signed, form: CheckedForm, console: ConsoleDep) -> Response:
    actor = session.actor
    require(console, actor, "keys.rotate")
    region = form.get("region", "")
    if region not in console.vault.regions:
        raise InvalidInput("choose one of your regions to rotate")
    if not actor.may_access_region(region):
        console.vault.rotate_keys(region, actor=actor)  # refused and audited by the vault
    console.rotations.start(console.vault, region, actor)
    return RedirectResponse(f"{PREFIX}/keys#progress", status_code=303, headers=page_headers())
