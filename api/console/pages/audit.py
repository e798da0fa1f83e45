"""Audit (compliance): query by principal, subject, action and time; verify the chain."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from itertools import islice

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.console.charts import BarChart, bar_chart
from api.console.lists import Pager, an_id, pager, paging
from api.console.web import (
    ConsoleDep,
    ConsoleRoute,
    Signed,
    render,
    require,
)
from vault.domain import Actor, AuditEvent
from vault.errors import InvalidInput
from vault.service import RecordVault

router = APIRouter(route_class=ConsoleRoute)

#: the per-day chart covers this many days, and reads at most this many events
CHART_DAYS = 14
CHART_EVENTS = 100_000


def _time(text: str, label: str) -> datetime | None:
    """A date (``2026-01-15``, midnight UTC) or a date and time with a zone."""
    text = text.strip()
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(
            f"{label}: a date (2026-01-15) or an ISO 8601 time with a zone"
        ) from None
    if len(text) == 10:
        return value.replace(tzinfo=UTC)
    if value.tzinfo is None:
        raise InvalidInput(f"{label}: give a zone (…Z or +09:00); a time without one is refused")
    return value


def refused(event: AuditEvent) -> bool:
    return event.outcome.startswith("refused")


def per_day_chart(vault: RecordVault, actor: Actor) -> BarChart:
    today = vault.clock().astimezone(UTC).date()
    first = today - timedelta(days=CHART_DAYS - 1)
    since = datetime.combine(first, datetime.min.time(), UTC)
    ok: Counter[str] = Counter()
    no: Counter[str] = Counter()
    for event in islice(vault.audit_events(since=since, actor=actor), CHART_EVENTS):
        day = event.ts.astimezone(UTC).date().isoformat()
        (no if refused(event) else ok)[day] += 1
    rows = []
    for offset in range(CHART_DAYS):
        day = (first + timedelta(days=offset)).isoformat()
        rows.append((day[5:], [("allowed", ok[day], "ok"), ("refused", no[day], "refused")]))
    return bar_chart(
        "audit-per-day",
        "Audit events per day",
        f"Audit events per day over the last {CHART_DAYS} days in your regions; "
        "refusals stacked on top in a darker colour.",
        rows,
    )


@router.get("/audit", name="console.audit")
def audit(
    request: Request,
    session: Signed,
    console: ConsoleDep,
    principal: str = "",
    subject_id: str = "",
    action: str = "",
    since: str = "",
    until: str = "",
    run: str = "",
    limit: str = "",
    cursor: str = "",
) -> Response:
    """The chart, and with ``run`` a page of the query's events in chain order (``seq``)."""
    actor, vault = session.actor, console.vault
    require(console, actor, "audit.query")
    events: tuple[AuditEvent, ...] | None = None
    pages: Pager | None = None
    if run:
        asked = paging(limit, cursor)
        found = vault.audit_page(
            principal=principal.strip() or None,
            subject_id=an_id(subject_id, "the subject id") if subject_id.strip() else None,
            action=action.strip() or None,
            since=_time(since, "since"),
            until=_time(until, "until"),
            limit=asked.limit,
            cursor=asked.cursor,
            actor=actor,
        )
        events = found.items
        pages = pager(request, "audit events", len(events), asked, found.next)
    return render(
        request,
        "audit.html",
        session,
        events=events,
        pages=pages,
        limit=limit.strip(),
        query={
            "principal": principal,
            "subject_id": subject_id,
            "action": action,
            "since": since,
            "until": until,
        },
        chart=per_day_chart(vault, actor),
    )


@router.get("/audit/verify", name="console.audit_verify")
def verify(request: Request, session: Signed, console: ConsoleDep) -> Response:
    require(console, session.actor, "audit.verify")
    result = console.vault.verify_audit(actor=session.actor)
    return render(request, "audit_verify.html", session, result=result)
