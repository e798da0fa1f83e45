"""Disposal (compliance): the plan as of a date, why each item is kept or may go, approvals."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from api.console.charts import BarChart, bar_chart
from api.console.lists import back_to, pager, paging, this_page
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

#: the horizon chart shows this many years from the current one
HORIZON_YEARS = 15
REGION_CSS = ("ok", "alt", "third", "fourth")


def _as_of(text: str) -> datetime | None:
    text = text.strip()
    if not text:
        return None
    try:
        day = datetime.strptime(text, "%Y-%m-%d")
    except ValueError:
        raise InvalidInput("the date is a calendar date such as 2036-01-15") from None
    return day.replace(tzinfo=UTC)


def horizon_chart(counts: dict[str, dict[int, int]], first: int) -> BarChart:
    """Records reaching retain-until per year, stacked by region; earlier years in the first bar."""
    regions = sorted(counts)
    rows = []
    for year in range(first, first + HORIZON_YEARS):
        parts = []
        for index, region in enumerate(regions):
            if year == first:
                value = sum(n for y, n in counts[region].items() if y <= year)
            elif year == first + HORIZON_YEARS - 1:
                value = sum(n for y, n in counts[region].items() if y >= year)
            else:
                value = counts[region].get(year, 0)
            parts.append((f"records in {region}", value, REGION_CSS[index % len(REGION_CSS)]))
        rows.append((str(year), parts))
    legend = ", ".join(
        f"{region}: {('lighter', 'darker', 'third', 'fourth')[i % 4]}"
        for i, region in enumerate(regions)
    )
    return bar_chart(
        "horizon",
        "Records reaching retain-until per year",
        f"Live records whose retention ends in each year (the first bar includes earlier years, "
        f"the last one later years), stacked by region ({legend}).",
        rows,
    )


@router.get("/disposal", name="console.disposal")
def disposal(
    request: Request,
    session: Signed,
    console: ConsoleDep,
    as_of: str = "",
    done: str = "",
    limit: str = "",
    cursor: str = "",
) -> Response:
    """A page of the plan (``GET /v1/retention/plan`` order: subject, then item).

    The counts of what may go and what is kept are this page's; the horizon chart
    is the library's own aggregate (``retention_horizon``), so it covers every page.
    """
    actor, vault = session.actor, console.vault
    require(console, actor, "retention.plan")
    asked = paging(limit, cursor)
    plan = vault.plan_disposal_page(
        _as_of(as_of), limit=asked.limit, cursor=asked.cursor, actor=actor
    )
    counts = vault.retention_horizon(actor=actor)
    message = f"{done} item(s) approved for disposal." if done.isdigit() else ""
    return render(
        request,
        "disposal.html",
        session,
        plan=plan,
        pages=pager(request, "plan items", len(plan.items), asked, plan.next),
        as_of=as_of,
        limit=limit.strip(),
        back=this_page(request),
        chart=horizon_chart(counts, vault.clock().year),
        message=message,
    )


@router.post("/disposal/approve", name="console.approve")
async def approve(
    request: Request, session: Signed, form: CheckedForm, console: ConsoleDep
) -> Response:
    actor, vault = session.actor, console.vault
    require(console, actor, "retention.approve")
    body = (await request.body()).decode("utf-8", "replace")
    ids = [value for key, value in parse_qsl(body) if key == "id"]
    if not ids:
        raise InvalidInput("tick at least one item to approve")
    count, _ = vault.approve_disposal_items(ids, actor=actor)
    back = back_to(form.get("back", ""), f"{PREFIX}/disposal", _PLAN_QUERY, str(count))
    return RedirectResponse(back, status_code=303, headers=page_headers())


#: what the plan page's address keeps when approvals return to it
_PLAN_QUERY = ("as_of", "limit", "cursor")
