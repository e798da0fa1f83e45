"""Client commands for the tamper-evident audit log (compliance): verify, query, checkpoints.

``audit verify`` fails with ``ViolationFound`` (exit 1) when the chain is broken.
Two commands need no API: ``audit checkpoint`` is server-side (it signs, with
the configuration and secrets, like ``recvault gc``) and ``audit verify
--offline DIR`` checks checkpoint files with the public key only; ``audit
partitions`` is server-side too (PostgreSQL's monthly partitions).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from vault.cli.app import ViolationFound, app
from vault.cli.client import AddrOpt, JsonOpt, TokenOpt, aware, client
from vault.cli.output import say, show, spinner
from vault.cli.pages import AllOpt, CursorOpt, LimitOpt, fetch, show_page
from vault.cli.server import OPERATOR, ConfigOpt, _vault
from vault.domain import to_json

audit_app = typer.Typer(help="The tamper-evident audit log (compliance).", no_args_is_help=True)
app.add_typer(audit_app, name="audit")

#: the subject answers the breach question ("whose records did X read?"; docs/users.md)
EVENT_COLUMNS = (
    "seq",
    "ts",
    "actor",
    "role",
    "action",
    "target",
    "subject_id",
    "region",
    "outcome",
)


@audit_app.command("verify")
def audit_verify(
    offline: Annotated[
        Path | None,
        typer.Option(
            "--offline",
            help="check a directory of checkpoint files with the public key only (no server)",
            file_okay=False,
        ),
    ] = None,
    public_key: Annotated[
        str | None,
        typer.Option(
            "--public-key",
            envvar="RECVAULT_PUBLIC_KEY",
            help="the deployment's Ed25519 public key (base64), for --offline",
        ),
    ] = None,
    as_json: JsonOpt = False,
    addr: AddrOpt = None,
    token: TokenOpt = None,
) -> None:
    """Verify the audit chain (server) or a directory of signed checkpoints (--offline)."""
    if offline is not None:
        _verify_offline(offline, public_key, as_json)
        return
    with spinner("verifying the audit chain", as_json):
        result = client(addr, token).call("GET", "/v1/audit/verify")
    show(result, as_json, title="audit chain")
    if not (isinstance(result, dict) and result.get("ok") is True):
        seq = result.get("first_broken_seq") if isinstance(result, dict) else None
        raise ViolationFound(f"the audit chain is broken at event {seq}")


def _verify_offline(directory: Path, public_key: str | None, as_json: bool) -> None:
    from vault.audit.checkpoints import verify_offline

    if not public_key:
        raise typer.BadParameter("--offline needs --public-key (or RECVAULT_PUBLIC_KEY)")
    if not directory.is_dir():
        raise typer.BadParameter(f"--offline: {directory} is not a directory")
    files = [(p.name, p.read_bytes()) for p in sorted(directory.glob("*.json")) if p.is_file()]
    verdict = verify_offline(files, public_key)
    show(to_json(verdict), as_json, title="audit checkpoints")
    if not verdict.ok:
        where = f"{verdict.file}: " if verdict.file else ""
        raise ViolationFound(f"audit checkpoints do not verify: {where}{verdict.reason}")


@audit_app.command("checkpoint")
def audit_checkpoint(config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """Server-side: verify the chain, then sign a checkpoint into every region's store."""
    vault = _vault(config)
    try:
        written = vault.audit_checkpoint(actor=OPERATOR)
    finally:
        vault.close()
    if written is None:
        show({"written": False, "reason": "nothing new since the newest checkpoint"}, as_json)
        return
    show({"written": True, **to_json(written)}, as_json, title="audit checkpoint")


partitions_app = typer.Typer(
    help="Server-side, PostgreSQL: the audit table's monthly partitions (docs/operations.md).",
    no_args_is_help=True,
)
audit_app.add_typer(partitions_app, name="partitions")
PARTITION_COLUMNS = ("name", "attached", "events", "total_bytes", "last_seq")


@partitions_app.command("ls")
def audit_partitions_ls(config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """Every month of audit events, attached or detached, with its size."""
    vault = _vault(config)
    try:
        found = vault.audit_partitions(actor=OPERATOR)
    finally:
        vault.close()
    if not found and not as_json:
        say("no audit partitions: the metadata DB is not PostgreSQL, or not migrated to 0005")
    show([to_json(p) for p in found], as_json, columns=PARTITION_COLUMNS, title="audit partitions")


@partitions_app.command("detach")
def audit_partitions_detach(
    month: Annotated[str, typer.Argument(metavar="YYYY-MM", help="the oldest attached month")],
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Detach the oldest past month from the audit table; its table and rows are kept."""
    vault = _vault(config)
    try:
        detached = vault.detach_audit_partition(month, actor=OPERATOR)
    finally:
        vault.close()
    show(to_json(detached), as_json, title="audit partition detached")


#: ``--action read`` means ``record.read``: names without a dot are record actions
def _action(value: str | None) -> str | None:
    if value is None or "." in value:
        return value
    return f"record.{value}"


@audit_app.command("query")
def audit_query(
    actor: Annotated[str | None, typer.Option("--actor", help="principal name")] = None,
    subject: Annotated[str | None, typer.Option("--subject", help="subject id")] = None,
    since: Annotated[str | None, typer.Option("--since", help="ISO 8601 with zone")] = None,
    until: Annotated[str | None, typer.Option("--until", help="ISO 8601 with zone")] = None,
    action: Annotated[
        str | None,
        typer.Option("--action", help="e.g. record.read; a name without a dot is a record action"),
    ] = None,
    after_seq: Annotated[
        int | None, typer.Option("--after-seq", min=0, help="start after this event (a tail)")
    ] = None,
    limit: LimitOpt = None,
    cursor: CursorOpt = None,
    every: AllOpt = False,
    as_json: JsonOpt = False,
    addr: AddrOpt = None,
    token: TokenOpt = None,
) -> None:
    """Audit events in chain order: which principal did what to which subject, and when."""
    params: dict[str, Any] = {
        "actor": actor,
        "subject_id": subject,
        "since": aware(since, "--since"),
        "until": aware(until, "--until"),
        "action": _action(action),
        "after_seq": after_seq,
    }
    with spinner("reading audit events", as_json):
        page = fetch(
            client(addr, token), "/v1/audit", params, limit=limit, cursor=cursor, every=every
        )
    show_page(page, as_json, EVENT_COLUMNS, "audit events")
