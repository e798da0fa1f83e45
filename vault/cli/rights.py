"""Client commands for legal holds (admin) and subject rights (DPO).

``holds place|release|ls``, ``erasure request|status``, ``restriction
set|clear`` and ``export``. A deferred erasure is an answer, not a failure:
it exits 0 and says until when and why.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from vault.cli.app import app
from vault.cli.client import AddrOpt, JsonOpt, QuietOpt, TokenOpt, client, print_id_or, stream_to
from vault.cli.output import say, show, show_rows
from vault.cli.pages import AllOpt, CursorOpt, LimitOpt, fetch, show_page

holds_app = typer.Typer(help="Legal holds (admin).", no_args_is_help=True)
erasure_app = typer.Typer(help="Erasure requests (dpo).", no_args_is_help=True)
restriction_app = typer.Typer(help="Restriction of processing (dpo).", no_args_is_help=True)
app.add_typer(holds_app, name="holds")
app.add_typer(erasure_app, name="erasure")
app.add_typer(restriction_app, name="restriction")

HOLD_COLUMNS = ("id", "scope", "target_id", "case_ref", "placed_by", "placed_at", "active")


@holds_app.command("place")
def holds_place(
    target_id: Annotated[str, typer.Argument(help="subject or record id")],
    case_ref: Annotated[str, typer.Option("--case-ref", help="the legal case reference")],
    reason: Annotated[str, typer.Option("--reason", help="why the hold is needed")],
    scope: Annotated[str, typer.Option("--scope", help="subject or record")] = "subject",
    quiet: QuietOpt = False,
    as_json: JsonOpt = False,
    addr: AddrOpt = None,
    token: TokenOpt = None,
) -> None:
    """Place a legal hold: nothing it covers is erased or moved until it is released."""
    body = {"scope": scope, "target_id": target_id, "case_ref": case_ref, "reason": reason}
    hold = client(addr, token).call("POST", "/v1/holds", body=body)
    print_id_or(hold, quiet, as_json, title="legal hold")


@holds_app.command("release")
def holds_release(
    hold_id: str,
    reason: Annotated[str, typer.Option("--reason", help="why the hold ends")],
    as_json: JsonOpt = False,
    addr: AddrOpt = None,
    token: TokenOpt = None,
) -> None:
    """Release a legal hold (by a different principal than the one who placed it)."""
    hold = client(addr, token).call("POST", f"/v1/holds/{hold_id}/release", body={"reason": reason})
    show(hold, as_json, title="legal hold")


@holds_app.command("ls")
def holds_ls(
    active: Annotated[bool, typer.Option("--active", help="only holds not yet released")] = False,
    limit: LimitOpt = None,
    cursor: CursorOpt = None,
    every: AllOpt = False,
    as_json: JsonOpt = False,
    addr: AddrOpt = None,
    token: TokenOpt = None,
) -> None:
    """List legal holds, oldest first, a page at a time."""
    params = {"active_only": active or None}
    page = fetch(client(addr, token), "/v1/holds", params, limit=limit, cursor=cursor, every=every)
    show_page(page, as_json, HOLD_COLUMNS, "legal holds")


def _show_decision(decision: Any, as_json: bool) -> None:
    if as_json or not isinstance(decision, dict):
        show(decision, as_json)
        return
    reasons = decision.get("reasons") or []
    summary = {k: v for k, v in decision.items() if k != "reasons"}
    show(summary, False, title="erasure")
    if reasons:
        show_rows(reasons, ("kind", "detail", "until", "case_ref", "record_id"), "kept because")


@erasure_app.command("request")
def erasure_request(
    subject_id: str, as_json: JsonOpt = False, addr: AddrOpt = None, token: TokenOpt = None
) -> None:
    """Request erasure of a subject: scheduled now, or deferred with a date and the reasons."""
    decision = client(addr, token).call("POST", f"/v1/subjects/{subject_id}/erasure")
    _show_decision(decision, as_json)


@erasure_app.command("status")
def erasure_status(
    subject_id: str, as_json: JsonOpt = False, addr: AddrOpt = None, token: TokenOpt = None
) -> None:
    """Show the state of a subject's erasure request."""
    decision = client(addr, token).call("GET", f"/v1/subjects/{subject_id}/erasure")
    _show_decision(decision, as_json)


def _restriction(
    method: str, subject_id: str, as_json: bool, addr: str | None, tok: str | None
) -> None:
    answer = client(addr, tok).call(method, f"/v1/subjects/{subject_id}/restriction")
    restricted = method == "POST"
    result = answer if isinstance(answer, dict) else {"subject_id": subject_id}
    result.setdefault("restricted", restricted)
    if as_json:
        show(result, True)
    else:
        print(f"subject {subject_id}: processing {'restricted' if restricted else 'allowed'}")


@restriction_app.command("set")
def restriction_set(
    subject_id: str, as_json: JsonOpt = False, addr: AddrOpt = None, token: TokenOpt = None
) -> None:
    """Restrict processing: every read and write of the subject is refused except by the DPO."""
    _restriction("POST", subject_id, as_json, addr, token)


@restriction_app.command("clear")
def restriction_clear(
    subject_id: str, as_json: JsonOpt = False, addr: AddrOpt = None, token: TokenOpt = None
) -> None:
    """Lift the restriction of processing."""
    _restriction("DELETE", subject_id, as_json, addr, token)


@app.command("export")
def export(
    subject_id: str,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="zip file (default: export-<id>.zip)")
    ] = None,
    as_json: JsonOpt = False,
    addr: AddrOpt = None,
    token: TokenOpt = None,
) -> None:
    """Export every record of a subject and a manifest as one zip (dpo)."""
    target = output or Path(f"export-{subject_id}.zip")
    written = stream_to(
        client(addr, token),
        f"/v1/subjects/{subject_id}/export",
        str(target),
        label="export",
        quiet=as_json,
    )
    if as_json:
        show({"subject_id": subject_id, "output": str(target), "bytes": written}, True)
    else:
        say(f"wrote {written} bytes to {target}")
