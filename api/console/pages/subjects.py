"""Subjects (DPO, service): find a subject, its records, holds, erasure and restriction, export."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import BinaryIO, cast

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse

from api.console.lists import Pager, an_id, pager, paging
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
from api.exports import PipeWriter, run_export
from api.permissions import allowed
from vault.domain import ErasureDecision, Hold, RecordInfo, Subject
from vault.errors import InvalidInput, NotFound

router = APIRouter(route_class=ConsoleRoute)

#: a page of a subject's records lists each one's versions while it has at most this many
VERSIONS_SHOWN = 50


@router.get("/subjects", name="console.subjects")
def find(request: Request, session: Signed, console: ConsoleDep, q: str = "") -> Response:
    actor = session.actor
    require(console, actor, "subjects.get")
    query = q.strip()
    found: list[Subject] | None = None
    if query:
        if len(query) > 512:
            raise InvalidInput("a clinic reference has at most 512 characters")
        try:
            subject_id = an_id(query)
        except InvalidInput:
            found = console.vault.find_subjects(query, actor=actor)
        else:
            url = f"{PREFIX}/subjects/{subject_id}"
            return RedirectResponse(url, status_code=303, headers=page_headers())
    return render(request, "subjects.html", session, q=query, found=found)


@router.get("/subjects/{subject_id}", name="console.subject")
def subject(
    request: Request,
    subject_id: str,
    session: Signed,
    console: ConsoleDep,
    done: str = "",
    limit: str = "",
    records_cursor: str = "",
    holds_cursor: str = "",
) -> Response:
    """The subject, a page of its records and a page of its active holds (each its own cursor)."""
    actor, vault = session.actor, console.vault
    subject_id = an_id(subject_id, "the subject id")
    require(console, actor, "subjects.get", subject_id)
    found = vault.get_subject(subject_id, actor=actor)
    records: list[RecordInfo] | None = None
    record_pages: Pager | None = None
    if allowed("records.list", actor.roles):
        asked = paging(limit, records_cursor)
        listed = vault.records_page(subject_id, limit=asked.limit, cursor=asked.cursor, actor=actor)
        # with every version (a metadata read, not processing) while the page is short
        records = [
            vault.record_info(r.id, actor=actor) if len(listed.items) <= VERSIONS_SHOWN else r
            for r in listed.items
        ]
        record_pages = pager(request, "records", len(records), asked, listed.next, "records_cursor")
    decision: ErasureDecision | None = None
    dpo = allowed("erasure.status", actor.roles)
    if dpo:
        try:
            decision = vault.erasure_status(subject_id, actor=actor)
        except NotFound:
            decision = None
    holds: tuple[Hold, ...] | None = None
    hold_pages: Pager | None = None
    if allowed("holds.list", actor.roles):
        asked = paging(limit, holds_cursor)
        held = vault.holds_page(
            active_only=True,
            subject_id=subject_id,
            limit=asked.limit,
            cursor=asked.cursor,
            actor=actor,
        )
        holds = held.items
        hold_pages = pager(request, "active holds", len(holds), asked, held.next, "holds_cursor")
    messages = {
        "restricted": "Processing of this subject is now restricted.",
        "unrestricted": "The restriction is cleared.",
        "erasure": "The erasure request is recorded; its decision is below.",
    }
    return render(
        request,
        "subject.html",
        session,
        subject=found,
        records=records,
        decision=decision,
        holds=holds,
        record_pages=record_pages,
        hold_pages=hold_pages,
        may_restrict=allowed("restriction.set", actor.roles),
        may_erase=allowed("erasure.request", actor.roles),
        may_export=allowed("subjects.export", actor.roles),
        message=messages.get(done, ""),
    )


@router.post("/subjects/{subject_id}/restriction", name="console.restriction")
def restriction(
    subject_id: str, session: Signed, form: CheckedForm, console: ConsoleDep
) -> Response:
    actor = session.actor
    subject_id = an_id(subject_id, "the subject id")
    if form.get("action") == "clear":
        require(console, actor, "restriction.clear", subject_id)
        console.vault.unrestrict(subject_id, actor=actor)
        done = "unrestricted"
    else:
        require(console, actor, "restriction.set", subject_id)
        console.vault.restrict(subject_id, actor=actor)
        done = "restricted"
    url = f"{PREFIX}/subjects/{subject_id}?done={done}"
    return RedirectResponse(url, status_code=303, headers=page_headers())


@router.post("/subjects/{subject_id}/erasure", name="console.erasure")
def erasure(subject_id: str, session: Signed, form: CheckedForm, console: ConsoleDep) -> Response:
    actor = session.actor
    subject_id = an_id(subject_id, "the subject id")
    require(console, actor, "erasure.request", subject_id)
    if form.get("confirm") != "yes":
        raise InvalidInput("tick the confirmation to record an erasure request")
    console.vault.request_erasure(subject_id, actor=actor)
    url = f"{PREFIX}/subjects/{subject_id}?done=erasure"
    return RedirectResponse(url, status_code=303, headers=page_headers())


@router.get("/subjects/{subject_id}/export", name="console.export")
async def export(subject_id: str, session: Signed, console: ConsoleDep) -> StreamingResponse:
    actor = session.actor
    subject_id = an_id(subject_id, "the subject id")
    require(console, actor, "subjects.export", subject_id)

    def write(out: PipeWriter) -> object:
        return console.vault.export_subject(subject_id, cast(BinaryIO, out), actor=actor)

    body: AsyncIterator[bytes] = await run_export(write)
    return StreamingResponse(
        body,
        media_type="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="subject-{subject_id}.zip"',
            "Cache-Control": "no-store",
        },
    )
