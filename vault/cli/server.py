"""Server-side commands: ``db upgrade``, ``keys bootstrap``, ``principals``, ``gc``, ``serve``."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from vault.cli.app import app
from vault.cli.output import console as people_console
from vault.cli.output import say, show_rows
from vault.cli.pages import AllOpt, CursorOpt, LimitOpt
from vault.domain import Actor, GcResult, Role, to_json
from vault.errors import ConfigError
from vault.logs import LOGGING
from vault.paging import DEFAULT_LIMIT, MAX_LIMIT
from vault.principals import Principal
from vault.settings import Settings, vault_token

#: into a pipe or a file, lines and tables are not folded at 80 columns (vault.cli.output)
console = people_console()
db_app = typer.Typer(help="Metadata database.", no_args_is_help=True)
keys_app = typer.Typer(help="Key providers (Vault Transit).", no_args_is_help=True)
principals_app = typer.Typer(help="Principals, roles and tokens.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(keys_app, name="keys")
app.add_typer(principals_app, name="principals")

ConfigOpt = Annotated[
    str | None, typer.Option("--config", "-c", help="TOML file (default: $RECVAULT_CONFIG)")
]
OPERATOR = Actor("operator", frozenset(Role))


def _vault(config: str | None):  # type: ignore[no-untyped-def]
    from vault.service import RecordVault

    return RecordVault.from_settings(Settings.load(config))


@db_app.command("upgrade")
def db_upgrade(config: ConfigOpt = None) -> None:
    """Create or migrate the metadata DB to the latest schema (and, on PostgreSQL, the audit
    table's monthly partitions a year ahead)."""
    from vault.metadata.migrate import upgrade

    settings = Settings.load(config)
    upgrade(settings.database.url)
    console.print("metadata database is up to date")
    made = _prepare_audit_months(settings.database.url)
    if made:
        console.print(f"audit partitions made: {', '.join(made)}")


def _prepare_audit_months(url: str) -> list[str]:
    """PostgreSQL: this month's audit partition and the next ``OWNER_AHEAD``, made by the
    role migrations run as (the application role may not create tables)."""
    from datetime import UTC, datetime

    from vault.audit.partitions import OWNER_AHEAD, ensure_months
    from vault.metadata import make_engine

    engine = make_engine(url)
    try:
        return ensure_months(engine, datetime.now(UTC), ahead=OWNER_AHEAD)
    finally:
        engine.dispose()


@keys_app.command("bootstrap")
def keys_bootstrap(config: ConfigOpt = None) -> None:
    """Enable Transit mounts, refuse upserts, bound caches and write the policies."""
    from keys.bootstrap import bootstrap_transit

    settings = Settings.load(config)
    for name, region in settings.regions.items():
        if region.keys.kind != "vault":
            continue
        token = vault_token(name, region.keys)
        if not token:
            raise typer.BadParameter(f"{region.keys.token_env} is not set for region {name}")
        mounts = region.keys.mount_list() or [f"transit-{name.lower()}"]
        bootstrap_transit(
            region.keys.addr,
            token,
            mounts,
            verify=region.keys.tls_verify(),
            client_cert=region.keys.tls_client_cert(),
            namespace=region.keys.namespace,
        )
        console.print(f"region {name}: transit mounts {', '.join(mounts)} ready")


@principals_app.command("add")
def principals_add(
    name: str,
    role: Annotated[
        list[str], typer.Option("--role", help="service, admin, security, compliance, dpo")
    ],
    region: Annotated[
        list[str] | None, typer.Option("--region", help="granted region (default: all)")
    ] = None,
    config: ConfigOpt = None,
) -> None:
    """Create a principal and print its token (shown only once)."""
    vault = _vault(config)
    principal, token = vault.principals.add(name, role, region or None, OPERATOR)
    console.print(f"principal {principal.name} ({', '.join(principal.roles)})")
    console.print(f"token: {token}", markup=False)


@principals_app.command("list")
def principals_list(
    config: ConfigOpt = None,
    limit: LimitOpt = None,
    cursor: CursorOpt = None,
    every: AllOpt = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="machine-readable JSON on stdout")
    ] = False,
) -> None:
    """List principals by name, a page at a time (never their tokens)."""
    principals = _vault(config).principals
    rows: list[Principal] = []
    following = cursor
    while True:
        size = limit or (MAX_LIMIT if every else DEFAULT_LIMIT)
        page = principals.page(OPERATOR, size, following)
        rows.extend(page.items)
        following = page.next
        if not every or following is None:
            break
    if as_json:
        items = [
            {"name": p.name, "roles": list(p.roles), "regions": p.regions, "disabled": p.disabled}
            for p in rows
        ]
        print(json.dumps({"items": items, "next": following}))
        return
    table = Table("name", "roles", "regions", "disabled")
    for p in rows:
        table.add_row(
            p.name, ",".join(p.roles), ",".join(p.regions or ["*"]), "yes" if p.disabled else "no"
        )
    console.print(table)
    if following:
        say(f"more principals: --cursor {following} (or --all)")


@principals_app.command("disable")
def principals_disable(name: str, config: ConfigOpt = None) -> None:
    """Disable a principal: its token stops working at once."""
    _vault(config).principals.disable(name, OPERATOR)
    console.print(f"principal {name} disabled")


@app.command("gc")
def gc(
    config: ConfigOpt = None,
    report: Annotated[
        bool,
        typer.Option(
            "--report", help="remove nothing: list what would be removed and every object kept"
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="the result as JSON")] = False,
) -> None:
    """Remove what crashed writes left (stale pending versions, temp files, incomplete
    uploads); keep and list stored objects the metadata DB does not reference."""
    result = _vault(config).gc(dry_run=report, actor=OPERATOR)
    if as_json:
        print(json.dumps(to_json(result)))
    else:
        _print_gc(result)
    if report and result.kept:
        raise typer.Exit(1)  # like a residency report that found something: someone must look


def _print_gc(result: GcResult) -> None:
    verb = "would remove" if result.dry_run else "removed"
    console.print(
        f"{verb} {result.pending_versions_removed} pending versions, "
        f"{result.temp_files_removed} temporary files and incomplete uploads"
    )
    if not result.kept:
        console.print("every stored object is referenced by the metadata DB")
        return
    console.print(
        f"kept {result.unknown_objects_kept} complete objects the metadata DB does not know "
        f"and {result.unreadable_objects_kept} unreadable ones; nothing of them was deleted "
        "(docs/operations.md, Restore drill)"
    )
    if not result.dry_run:
        console.print("list them with: recvault gc --report")
        return
    rows = [
        {
            "region": kept.region,
            "object_key": kept.object_key,
            "bytes": kept.size,
            "kind": kept.reason.value + (f": {kept.detail}" if kept.detail else ""),
            "record_id": kept.record_id,
            "record_known": kept.record_known if kept.record_id else None,
            "version": kept.record_version,
            "key_name": kept.key_name,
            "key_version": kept.key_version,
        }
        for kept in result.kept
    ]
    show_rows(rows)


#: uvicorn's protocol for recvault: its httptools parser with header size, count and time limits
HTTP_PROTOCOL = "api.server:GuardedHttpToolsProtocol"


def server_options(settings: Settings) -> dict[str, Any]:
    """uvicorn options that bound a recvault server (docs/operations.md, server limits)."""
    limits = settings.limits
    return {
        "http": HTTP_PROTOCOL,
        "timeout_keep_alive": max(1, round(limits.keep_alive.approx_timedelta().total_seconds())),
        "limit_concurrency": limits.max_connections,
        # No uvicorn access log: it prints query strings (a file name may name a patient).
        # The API writes its own access log by route name (api.logs, JSON lines).
        "access_log": False,
        # one JSON-lines log: uvicorn's lines, the access log and errors (vault.logs)
        "log_config": LOGGING,
        # The loop is asyncio on purpose: under uvloop, streamed uploads ran at half the
        # rate (docs/benchmarks.md, P9).
        "loop": "asyncio",
    }


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            max=64,
            help="API processes sharing the port (PostgreSQL only; "
            "SQLite serialises every write in one process)",
        ),
    ] = 1,
    config: ConfigOpt = None,
) -> None:
    """Serve the HTTP API (uvicorn running api.app:build)."""
    import os

    import uvicorn

    if config:
        os.environ["RECVAULT_CONFIG"] = config
    settings = Settings.load(config)
    if workers > 1 and settings.database.url.startswith("sqlite"):
        raise ConfigError(
            "--workers above 1 needs PostgreSQL: SQLite serialises every write in one process"
        )
    uvicorn.run(
        "api.app:build",
        factory=True,
        host=host,
        port=port,
        # each worker is a process of its own (one interpreter lock each), built from
        # the same settings; they share the listening socket and nothing else
        workers=workers,
        **server_options(settings),
    )
