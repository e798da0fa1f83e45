"""Key destructions (security, compliance): the waiting period counted down, cancel, certificate."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from api.console.lists import an_id, pager, paging, this_page
from api.console.web import (
    PREFIX,
    CheckedForm,
    ConsoleDep,
    ConsoleRoute,
    Signed,
    page_headers,
    render,
    require,
)

router = APIRouter(route_class=ConsoleRoute)


def countdown(not_before: datetime, now: datetime) -> str:
    """``12 days 3 h left`` until the key may be destroyed; ``due`` once it may."""
    left = not_before - now
    if left <= timedelta(0):
        return "due now"
    days, rest = divmod(int(left.total_seconds()), 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days} days {hours} h left"
    return f"{hours} h {minutes} min left"


@router.get("/destructions", name="console.destructions")
def destructions(
    request: Request,
    session: Signed,
    console: ConsoleDep,
    done: str = "",
    limit: str = "",
    cursor: str = "",
) -> Response:
    """A page of destructions, in ``GET /v1/destructions`` order (scheduled, oldest first)."""
    actor = session.actor
    require(console, actor, "destructions.list")
    asked = paging(limit, cursor)
    listed = console.vault.destructions_page(limit=asked.limit, cursor=asked.cursor, actor=actor)
    now = console.vault.clock()
    return render(
        request,
        "destructions.html",
        session,
        destructions=[(d, countdown(d.not_before, now)) for d in listed.items],
        pages=pager(request, "key destructions", len(listed.items), asked, listed.next),
        # the table refreshes itself: the same page, without the one-off notice
        refresh=this_page(request),
        message="The destruction is cancelled; the key stays." if done == "cancelled" else "",
    )


@router.get("/destructions/{destruction_id}/cancel", name="console.cancel_confirm")
def confirm_cancel(
    request: Request, destruction_id: str, session: Signed, console: ConsoleDep
) -> Response:
    destruction_id = an_id(destruction_id, "the destruction id")
    require(console, session.actor, "destructions.cancel", destruction_id)
    found = console.vault.get_destruction(destruction_id, actor=session.actor)
    left = countdown(found.not_before, console.vault.clock())
    return render(request, "destruction_cancel.html", session, destruction=found, left=left)


@router.post("/destructions/{destruction_id}/cancel", name="console.cancel")
def cancel(
    destruction_id: str, session: Signed, form: CheckedForm, console: ConsoleDep
) -> Response:
    destruction_id = an_id(destruction_id, "the destruction id")
    require(console, session.actor, "destructions.cancel", destruction_id)
    console.vault.cancel_destruction(destruction_id, actor=session.actor)
    return RedirectResponse(
        f"{PREFIX}/destructions?done=cancelled", status_code=303, headers=page_headers()
    )


@router.get("/destructions/{destruction_id}/certificate", name="console.certificate")
def certificate(destruction_id: str, session: Signed, console: ConsoleDep) -> Response:
    destruction_id = an_id(destruction_id, "the destruction id")
    require(console, session.actor, "destructions.certificate", destruction_id)
    signed = console.vault.destruction_certificate(destruction_id, actor=session.actor)
    return Response(
        json.dumps(signed, indent=2, sort_keys=True, default=str),
        media_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="destruction-{destruction_id}.json"',
            "Cache-Control": "no-store",
        },
    )
