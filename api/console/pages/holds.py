"""Legal holds (admin): list and filter by case reference, place, release with a reason."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from api.console.lists import an_id, back_to, pager, paging, this_page
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
from vault.errors import InvalidInput

router = APIRouter(route_class=ConsoleRoute)


@router.get("/holds", name="console.holds")
def holds(
    request: Request,
    session: Signed,
    console: ConsoleDep,
    case_ref: str = "",
    show: str = "active",
    done: str = "",
    limit: str = "",
    cursor: str = "",
) -> Response:
    """A page of holds, oldest first like ``GET /v1/holds``; the case filter runs in the query."""
    actor = session.actor
    require(console, actor, "holds.list")
    asked = paging(limit, cursor)
    if len(case_ref) > 200:
        raise InvalidInput("a case reference has at most 200 characters")
    listed = console.vault.holds_page(
        active_only=show != "all",
        case_ref=case_ref.strip() or None,
        limit=asked.limit,
        cursor=asked.cursor,
        actor=actor,
    )
    return render(
        request,
        "holds.html",
        session,
        holds=listed.items,
        pages=pager(request, "legal holds", len(listed.items), asked, listed.next),
        case_ref=case_ref,
        show=show,
        limit=limit.strip(),
        back=this_page(request),
        message={"placed": "The hold is placed.", "released": "The hold is released."}.get(
            done, ""
        ),
    )


def _required(form: dict[str, str], name: str, label: str) -> str:
    value = form.get(name, "").strip()
    if not value:
        raise InvalidInput(f"{label} is required")
    return value


@router.post("/holds", name="console.place_hold")
def place(session: Signed, form: CheckedForm, console: ConsoleDep) -> Response:
    actor = session.actor
    require(console, actor, "holds.place")
    scope = form.get("scope", "subject")
    if scope not in ("subject", "record"):
        raise InvalidInput("the scope is a subject or a record")
    target = an_id(form.get("target_id", ""), f"the {scope} id")
    case_ref = _required(form, "case_ref", "a case reference")
    reason = _required(form, "reason", "a reason")
    console.vault.place_hold(scope, target, case_ref, reason, actor=actor)
    url = f"{PREFIX}/holds?done=placed&case_ref={quote(case_ref)}"
    return RedirectResponse(url, status_code=303, headers=page_headers())


@router.post("/holds/{hold_id}/release", name="console.release_hold")
def release(hold_id: str, session: Signed, form: CheckedForm, console: ConsoleDep) -> Response:
    actor = session.actor
    hold_id = an_id(hold_id, "the hold id")
    require(console, actor, "holds.release", hold_id)
    reason = _required(form, "reason", "a reason for the release")
    console.vault.release_hold(hold_id, reason, actor=actor)
    # back to the page the hold was released from (its filter, size and cursor)
    back = back_to(form.get("back", ""), f"{PREFIX}/holds", _LIST_QUERY, "released")
    return RedirectResponse(back, status_code=303, headers=page_headers())


#: what the holds page's address keeps when a release returns to it
_LIST_QUERY = ("case_ref", "show", "limit", "cursor")
