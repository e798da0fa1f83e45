"""Residency (compliance): the report per region, violations highlighted, the signed download."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.console.web import ConsoleDep, ConsoleRoute, Signed, render, require
from vault.domain import to_json

router = APIRouter(route_class=ConsoleRoute)


@router.get("/residency", name="console.residency")
def residency(request: Request, session: Signed, console: ConsoleDep, run: str = "") -> Response:
    require(console, session.actor, "residency.report")
    document: dict[str, Any] | None = None
    if run:
        document = to_json(console.vault.residency_report(actor=session.actor))
    return render(request, "residency.html", session, report=document)


@router.get("/residency/report.json", name="console.residency_download")
def download(session: Signed, console: ConsoleDep) -> Response:
    """A fresh report, signed (``document``, ``signature``, ``public_key``), as a file."""
    require(console, session.actor, "residency.report")
    signed = console.vault.residency_report(actor=session.actor).signed()
    stamp = str(signed.get("document", {}).get("generated_at", ""))[:10]
    return Response(
        json.dumps(signed, indent=2, sort_keys=True),
        media_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="residency-report-{stamp}.json"',
            "Cache-Control": "no-store",
        },
    )
