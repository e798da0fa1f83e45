"""``recvault``: the Typer application and its one error-to-exit-code mapping.

Exit codes: 0 ok, 1 failure or violation found, 2 usage error. Errors print
one line on stderr, never a traceback: ``error: <detail> [<code>]``, or with
``--json`` one JSON problem object (``code``, ``detail``, ``status``, ``exit_code``).
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from typing import Annotated, NoReturn

import click
import typer
from typer._click import core as _typer_core
from typer._click import exceptions as _typer_click

from vault.errors import ConfigError, InvalidInput, PermissionDenied, VaultError

app = typer.Typer(
    name="recvault",
    help="recvault: encrypted, region-pinned records vault for clinical treatment records.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

EXIT_FAILURE, EXIT_USAGE = 1, 2


def installed_version() -> str:
    """recvault's version from the installed package's metadata."""
    from importlib import metadata

    try:
        return metadata.version("recvault")
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"recvault {installed_version()}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            help="Print the installed version and exit.",
            callback=_print_version,
            is_eager=True,
        ),
    ] = False,
) -> None:
    """recvault: encrypted, region-pinned records vault for clinical treatment records."""


# Typer 0.29 raises the exceptions of the click it vendors, not of the click package.
USAGE_ERRORS = (click.UsageError, _typer_click.UsageError)
ABORTS = (click.exceptions.Abort, typer.Abort)
EXITS = (click.exceptions.Exit, typer.Exit)

#: HTTP statuses that mean "the command line asked for something malformed"
USAGE_STATUSES = frozenset({400, 416, 422})


class ViolationFound(VaultError):
    """A check ran and found a violation (broken audit chain, residency not ok)."""

    code = "violation"


def exit_code_for(exc: BaseException) -> int:
    """The one place where errors (local, or the API's problem+json) become exit codes."""
    from vault.cli.http import ApiError, ClientUsageError

    if isinstance(exc, ApiError):
        # an id that is not 32 hex digits was typed wrong: the API answers 404 malformed-id
        usage = exc.status in USAGE_STATUSES or exc.code == "malformed-id"
        return EXIT_USAGE if usage else EXIT_FAILURE
    if isinstance(exc, (InvalidInput, ConfigError, ClientUsageError, *USAGE_ERRORS)):
        return EXIT_USAGE
    return EXIT_FAILURE


def _wants_json() -> bool:
    """``--json`` on the command line: a script reads errors as JSON too."""
    return "--json" in sys.argv[1:]


def report_error(detail: str, code: str, exit_code: int, status: int | None = None) -> None:
    """The one shape of an error, for people or (with ``--json``) for scripts."""
    if _wants_json():
        problem = {"code": code, "detail": detail, "status": status, "exit_code": exit_code}
        sys.stderr.write(json.dumps(problem, sort_keys=True) + "\n")
        sys.stderr.flush()
    else:
        from rich.console import Console

        Console(stderr=True, highlight=False, soft_wrap=True).print(
            f"error: {detail} [{code}]", markup=False
        )


def fail(exc: BaseException) -> NoReturn:
    code = exit_code_for(exc)
    if isinstance(exc, VaultError):
        report_error(exc.message, exc.code, code, getattr(exc, "status", None))
    elif isinstance(exc, OSError) and exc.strerror and exc.filename:
        report_error(f"{exc.filename}: {exc.strerror}", "os-error", code)
    else:
        report_error(str(exc), "error", code)
    raise SystemExit(code)


#: the order of ``recvault --help``: a service's tasks, oversight, then running a server
COMMAND_ORDER = (
    "subjects",
    "records",
    "holds",
    "erasure",
    "restriction",
    "export",
    "retention",
    "residency",
    "audit",
    "keys",
    "login",
    "logout",
    "serve",
    "worker",
    "dev",
    "db",
    "principals",
    "gc",
    "help",
)


def tidy_help(command: _typer_core.Command) -> _typer_core.Command:
    """Commands in ``COMMAND_ORDER``; flags shown as flags (no ``<bool>``), arguments as FILE."""
    help_option = command.get_help_option(command.context_class(command))
    for param in [*command.params, *([help_option] if help_option else [])]:
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
        if param.param_type_name == "argument" and param.metavar is None and param.name:
            param.metavar = param.name.upper()
            # Typer 0.29 writes a required argument as {file}; a man page writes FILE
            piece = param.metavar if param.required else f"[{param.metavar}]"
            setattr(param, "get_usage_pieces", lambda ctx, piece=piece: [piece])  # noqa: B010
    if command.short_help is None and command.help:
        # a parent's list of commands shows the first paragraph; a docstring's line
        # break inside it would be printed as one
        command.short_help = " ".join(command.help.split("\n\n")[0].split())
    subcommands: dict[str, _typer_core.Command] | None = getattr(command, "commands", None)
    if subcommands is not None:
        rank = {name: i for i, name in enumerate(COMMAND_ORDER)}
        ordered = sorted(subcommands.items(), key=lambda kv: rank.get(kv[0], len(rank)))
        subcommands.clear()
        subcommands.update(ordered)
        for sub in subcommands.values():
            tidy_help(sub)
    return command


#: the modules that define each command; a command named here loads only its own, so a
#: transfer does not first import the server's stack (~1 s; docs/benchmarks.md, P9)
COMMAND_MODULES = {
    "records": ("client",),
    "subjects": ("client",),
    "holds": ("rights",),
    "erasure": ("rights",),
    "restriction": ("rights",),
    "export": ("rights",),
    "login": ("login",),
    "logout": ("login",),
    "help": ("topics",),
}
ALL_MODULES = (
    "audit",
    "client",
    "dev",
    "login",
    "oversight",
    "rights",
    "server",
    "topics",
    "worker",
)


def command_modules(argv: list[str]) -> tuple[str, ...]:
    """The ``vault.cli`` modules the command line needs: its command's, or all of them."""
    if any(name.endswith("_COMPLETE") for name in os.environ):  # shell completion
        return ALL_MODULES
    first = next((arg for arg in argv if not arg.startswith("-")), None)
    if first is None and "--version" in argv:
        return ()  # answered by the root callback, before any command is looked at
    return COMMAND_MODULES.get(first or "", ALL_MODULES)


def _database_error(exc: Exception) -> VaultError | None:
    """What a driver failure that escaped a server-side command means: the database cannot
    serve now, or lacks recvault's schema (``vault.metadata.sessions.database_error``)."""
    sessions = sys.modules.get("vault.metadata.sessions")  # loaded by every command using a DB
    return sessions.database_error(exc) if sessions is not None else None


#: PostgreSQL's SQLSTATE for "insufficient privilege"
_INSUFFICIENT_PRIVILEGE = "42501"


def _database_refused(exc: Exception) -> bool:
    """The database refused the role the command connects as (e.g. migrations run as the
    application role instead of the owner)."""
    sa_exc = sys.modules.get("sqlalchemy.exc")
    orig = getattr(exc, "orig", None)
    return (
        sa_exc is not None
        and isinstance(exc, sa_exc.DBAPIError)
        and getattr(orig, "sqlstate", None) == _INSUFFICIENT_PRIVILEGE
    )


def main() -> None:
    for name in command_modules(sys.argv[1:]):
        importlib.import_module(f"vault.cli.{name}")

    try:
        command = tidy_help(typer.main.get_command(app))
        code = command.main(standalone_mode=False, prog_name="recvault")
    except USAGE_ERRORS as exc:
        if message := exc.format_message():  # empty when the help was printed (no arguments)
            # pydantic, which typer validates through, prefixes a validator's message
            message = message.removeprefix("Invalid value: ").replace(": Value error, ", ": ")
            report_error(message, "usage", EXIT_USAGE)
        sys.exit(EXIT_USAGE)
    except ABORTS:
        report_error("aborted", "aborted", EXIT_FAILURE)
        sys.exit(EXIT_FAILURE)
    except EXITS as exc:
        sys.exit(exc.exit_code)
    except VaultError as exc:
        fail(exc)
    except KeyboardInterrupt:
        sys.exit(130)
    except OSError as exc:
        fail(exc)
    except Exception as exc:
        if error := _database_error(exc):
            # as the API answers 503 (api.problems): the driver's text quotes SQL and hosts
            fail(error)
        if _database_refused(exc):
            # the driver's text quotes the SQL; what the operator needs is which role to use
            fail(
                PermissionDenied(
                    "the metadata database refused this role (insufficient privilege): run "
                    "recvault db upgrade and recvault audit partitions as the owner role "
                    "(docs/operations.md)"
                )
            )
        raise
    if isinstance(code, int) and code:
        sys.exit(code)
