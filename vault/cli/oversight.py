"""Client commands for security and compliance: keys, retention, destructions, residency.

A check that finds a violation (a residency report that is not ok) prints what
it found and then fails with ``ViolationFound``: exit 1. The audit commands are
``vault.cli.audit``.
"""

from __future__ import annotations

from typing import Annotated

import typer

from vault.cli.app import ViolationFound, app
from vault.cli.client import AddrOpt, JsonOpt, TokenOpt, aware, client, stream_to
from vault.cli.output import say, show, show_by_region, show_rows, spinner
from vault.cli.pages import AllOpt, CursorOpt, LimitOpt, fetch, show_page
from vault.cli.server import keys_app
from vault.domain import LegalBasis

retention_app = typer.Typer(help="Retention and disposal (compliance).", no_args_is_help=True)
destructions_app = typer.Typer(
    help="Subject-key destructions in their waiting period (security, compliance).",
    no_args_is_help=True,
)
residency_app = typer.Typer(help="Residency proof and transfers.", no_args_is_help=True)
app.add_typer(retention_app, name="retention")
app.add_typer(residency_app, name="residency")
keys_app.add_typer(destructions_app, name="destructions")

ITEM_COLUMNS = ("kind", "id", "subject_id", "action", "disposable", "approved")
DESTRUCTION_COLUMNS = ("id", "subject_id", "region", "state", "not_before", "reason")
REMNANT_COLUMNS = ("region", "object_key", "reason", "deletable_from")


# -- retention --------------------------------------------------------------------


@retention_app.command("plan")
def retention_plan(
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="plan as of this time (ISO 8601 with zone)")
    ] = None,
    limit: LimitOpt = None,
    cursor: CursorOpt = None,
    every: AllOpt = False,
    as_json: JsonOpt = False,
    addr: AddrOpt = None,
    token: TokenOpt = None,
) -> None:
    """What a sweep would dispose of, and what is kept and why (a page at a time)."""
    params = {"as_of": aware(as_of, "--as-of")}
    with spinner("planning disposal", as_json):
        plan = fetch(
            client(addr, token),
            "/v1/retention/plan",
            params,
            limit=limit,
            cursor=cursor,
            every=every,
        )
    if as_json:
        show(plan, True)
        return
    items = plan["items"]
    header = {k: v for k, v in plan.items() if k not in ("items", "next")}
    header["disposable"] = sum(1 for i in items if isinstance(i, dict) and i.get("disposable"))
    header["kept"] = len(items) - header["disposable"]
    show(header, False, title="disposal plan")
    show_page(plan, False, ITEM_COLUMNS, "items")


@retention_app.command("approve")
def retention_approve(
    ids: Annotated[
        list[str] | None, typer.Argument(help="ids from `retention plan` (record or subject)")
    ] = None,
    every: Annotated[
        bool, typer.Option("--all", help="approve every disposable item of the plan")
    ] = False,
    as_json: JsonOpt = False,
    addr: AddrOpt = None,
    token: TokenOpt = None,
) -> None:
    """Review mode: approve disposals of the current plan; the next sweep carries them out."""
    if bool(ids) == every:
        raise typer.BadParameter("name the ids to approve, or pass --all (not both)")
    body = {"ids": None if every else list(ids or [])}
    result = client(addr, token).call("POST", "/v1/retention/approvals", body=body)
    show(result, as_json, title="approvals")


@retention_app.command("sweep")
def retention_sweep(as_json: JsonOpt = False, addr: AddrOpt = None, token: TokenOpt = None) -> None:
    """Run one disposal sweep now (idempotent; workers also run it periodically)."""
    with spinner("sweeping", as_json):
        result = client(addr, token).call("POST", "/v1/retention/sweep")
    show(result, as_json, title="sweep")


# -- keys -------------------------------------------------------------------------


@keys_app.command("rotate")
def keys_rotate(
    region: Annotated[str | None, typer.Option("--region", help="only this region")] = None,
    subject: Annotated[str | None, typer.Option("--subject", help="only this subject")] = None,
    as_json: JsonOpt = False,
    addr: AddrOpt = None,
    token: TokenOpt = None,
) -> None:
    """Rotate subject keys and rewrap their data keys (no object is rewritten)."""
    body = {k: v for k, v in (("region", region), ("subject_id", subject)) if v}
    with spinner("rotating subject keys and rewrapping data keys", as_json):
        report = client(addr, token).call("POST", "/v1/keys/rotate", body=body)
    show(report, as_json, title="rotation")


@keys_app.command("status")
def keys_status(as_json: JsonOpt = False, addr: AddrOpt = None, token: TokenOpt = None) -> None:
    """Key inventory: subject keys per region, versions, age, pending destructions."""
    with spinner("reading key status", as_json):
        status = client(addr, token).call("GET", "/v1/keys/status")
    regions = status.get("regions") if isinstance(status, dict) else None
    if as_json or not isinstance(regions, dict):
        show(status, as_json, title="keys")
        return
    show({k: v for k, v in status.items() if k != "regions"}, False, title="keys")
    show_by_region(regions, "subject keys per region")


@destructions_app.command("ls")
def destructions_ls(
    state: Annotated[
        str | None, typer.Option("--state", help="scheduled, cancelled, done, blocked")
    ] = None,
    limit: LimitOpt = None,
    cursor: CursorOpt = None,
    every: AllOpt = False,
    as_json: JsonOpt = False,
    addr: AddrOpt = None,
    token: TokenOpt = None,
) -> None:
    """List subject-key destructions and their waiting periods, a page at a time."""
    page = fetch(
        client(addr, token),
        "/v1/keys/destructions",
        {"state": state},
        limit=limit,
        cursor=cursor,
        every=every,
    )
    show_page(page, as_json, DESTRUCTION_COLUMNS, "destructions")


@destructions_app.command("cancel")
def destructions_cancel(
    destruction_id: str, as_json: JsonOpt = False, addr: AddrOpt = None, token: TokenOpt = None
) -> None:
    """Cancel a scheduled destruction during its waiting period."""
    answer = client(addr, token).call("POST", f"/v1/keys/destructions/{destruction_id}/cancel")
    show(answer if answer is not None else {"id": destruction_id, "state": "cancelled"}, as_json)


@destructions_app.command("certificate")
def destructions_certificate(
    destruction_id: str,
    output: Annotated[
        str | None, typer.Option("--output", "-o", help="file (default: stdout)")
    ] = None,
    addr: AddrOpt = None,
    token: TokenOpt = None,
) -> None:
    """The signed destruction certificate, byte for byte (JSON)."""
    written = stream_to(
        client(addr, token),
        f"/v1/keys/destructions/{destruction_id}/certificate",
        output,
        label="certificate",
    )
    if output not in (None, "-"):
        say(f"wrote {written} bytes to {output}")


# -- residency --------------------------------------------------------------------


@residency_app.command("report")
def residency_report(
    as_json: JsonOpt = False, addr: AddrOpt = None, token: TokenOpt = None
) -> None:
    """Prove residency: stores, objects and subject keys each only in their region."""
    with spinner("checking stores, objects and keys in every region", as_json):
        signed = client(addr, token).call("GET", "/v1/residency/report")
    # The answer is a signed envelope; the findings are its document.
    report = signed.get("document", signed) if isinstance(signed, dict) else signed
    if as_json:
        show(signed, True)
    elif isinstance(report, dict):
        regions = report.get("regions")
        listed = ("regions", "violations", "remnants")
        summary = {k: v for k, v in report.items() if k not in listed}
        show(summary, False, title="residency report")
        if isinstance(regions, list):
            regions = {str(r.get("name", r.get("region", i))): r for i, r in enumerate(regions)}
        if isinstance(regions, dict):
            show_by_region(regions, "regions")
        if report.get("violations"):
            show_rows(report["violations"], None, "violations")
        if report.get("remnants"):
            # Not violations: the key is destroyed; the store deletes them from the date.
            show_rows(report["remnants"], REMNANT_COLUMNS, "shredded remnants (not violations)")
    else:
        show(report, False)
    ok = isinstance(report, dict) and report.get("ok") is True
    if not ok:
        raise ViolationFound("the residency report found violations")


ENTRY_COLUMNS = ("key", "present", "expected_region", "expected", "verdict", "detail")


def _section_command(section: str, label: str, summary: str) -> None:
    """``recvault residency objects|keys REGION``: one section of the report, paged."""

    def command(
        region: Annotated[str, typer.Argument(help="a configured region, e.g. JP")],
        limit: LimitOpt = None,
        cursor: CursorOpt = None,
        every: AllOpt = False,
        as_json: JsonOpt = False,
        addr: AddrOpt = None,
        token: TokenOpt = None,
    ) -> None:
        path = f"/v1/residency/regions/{region.upper()}/{section}"
        with spinner(f"listing the {label} of {region.upper()}", as_json):
            page = fetch(client(addr, token), path, {}, limit=limit, cursor=cursor, every=every)
        show_page(page, as_json, ENTRY_COLUMNS, label)

    command.__doc__ = summary
    residency_app.command(section)(command)


_section_command(
    "objects",
    "objects",
    "The report's object section of one region, a page at a time: each object's verdict.",
)
_section_command(
    "keys", "subject keys", "The report's subject-key section of one region, a page at a time."
)


@residency_app.command("transfer")
def residency_transfer(
    subject_id: str,
    to_region: Annotated[str, typer.Option("--to", help="target region")],
    legal_basis: Annotated[
        LegalBasis, typer.Option("--legal-basis", help="why it may move (Japan's APPI routes)")
    ],
    evidence_ref: Annotated[str, typer.Option("--evidence-ref", help="where the proof is filed")],
    as_json: JsonOpt = False,
    addr: AddrOpt = None,
    token: TokenOpt = None,
) -> None:
    """Move a subject to another region: an explicit, audited transfer."""
    body = {
        "to_region": to_region.upper(),
        "legal_basis": legal_basis.value,
        "evidence_ref": evidence_ref,
    }
    with spinner(f"transferring to {to_region.upper()}", as_json):
        result = client(addr, token).call("POST", f"/v1/subjects/{subject_id}/transfer", body=body)
    show(result, as_json, title="transfer")
