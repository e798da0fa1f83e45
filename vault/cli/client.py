"""Client commands for services: ``subjects`` and ``records``, over the HTTP API.

Every client command takes ``--addr``/``--token`` (default ``$RECVAULT_ADDR``,
``$RECVAULT_TOKEN``) and ``--json``. Content streams both ways: uploads send a
Content-Length and never load the file in memory; downloads write as they
arrive, to a file (atomically, via ``<file>.part``) or to stdout.
"""

from __future__ import annotations

import mimetypes
import os
import re
import shutil
import stat
import sys
import tempfile
from datetime import datetime
from pathlib import Path
from typing import IO, Annotated, Any

import typer

from vault.cli.app import app
from vault.cli.http import ApiClient
from vault.cli.output import say, show, transfer_progress
from vault.cli.pages import AllOpt, CursorOpt, LimitOpt, fetch, show_page
from vault.domain import Category

AddrOpt = Annotated[
    str | None,
    typer.Option(
        "--addr", help="API address (default: $RECVAULT_ADDR, else http://127.0.0.1:8000)"
    ),
]
TokenOpt = Annotated[
    str | None,
    typer.Option(
        "--token",
        help="bearer token (default: $RECVAULT_TOKEN, which other users cannot see in ps)",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="machine-readable JSON on stdout")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="print only the new id")]

subjects_app = typer.Typer(help="Data subjects (service, dpo).", no_args_is_help=True)
records_app = typer.Typer(
    help="Treatment records (service; metadata also dpo).", no_args_is_help=True
)
app.add_typer(subjects_app, name="subjects")
app.add_typer(records_app, name="records")

RECORD_COLUMNS = ("id", "category", "state", "version", "size", "content_type", "retain_until")
VERSION_COLUMNS = ("version", "size", "content_type", "created_at", "key_version")
_RANGE = re.compile(r"^(\d+)?-(\d+)?$")


def client(addr: str | None, token: str | None) -> ApiClient:
    return ApiClient.from_options(addr, token)


def print_id_or(value: Any, quiet: bool, as_json: bool, **show_args: Any) -> None:
    """``-q`` prints the bare id; ``--json`` always wins (a script asked for JSON)."""
    if quiet and not as_json and isinstance(value, dict) and "id" in value:
        print(value["id"])
    else:
        show(value, as_json, **show_args)


# -- subjects -------------------------------------------------------------------


@subjects_app.command("create")
def subjects_create(
    external_ref: Annotated[str, typer.Argument(help="the clinic's patient reference")],
    region: Annotated[str, typer.Option("--region", "-r", help="JP or PH")],
    quiet: QuietOpt = False,
    as_json: JsonOpt = False,
    addr: AddrOpt = None,
    token: TokenOpt = None,
) -> None:
    """Create a subject pinned to a region (or return the existing one for this reference)."""
    body = {"external_ref": external_ref, "region": region.upper()}
    subject = client(addr, token).call("POST", "/v1/subjects", body=body)
    print_id_or(subject, quiet, as_json, title="subject")


@subjects_app.command("get")
def subjects_get(
    subject_id: str, as_json: JsonOpt = False, addr: AddrOpt = None, token: TokenOpt = None
) -> None:
    """Show a subject's metadata (region, state, restriction)."""
    show(client(addr, token).call("GET", f"/v1/subjects/{subject_id}"), as_json, title="subject")


# -- records --------------------------------------------------------------------


def _spool_stdin() -> tuple[IO[bytes], int]:
    """Stdin has no length; spool it to a temporary file so the upload can state one."""
    spool = tempfile.TemporaryFile()  # noqa: SIM115  (closed by the caller)
    shutil.copyfileobj(sys.stdin.buffer, spool, 1024 * 1024)
    size = spool.tell()
    spool.seek(0)
    return spool, size


@records_app.command("put")
def records_put(
    file: Annotated[str, typer.Argument(help="file to store, or - for stdin")],
    subject: Annotated[
        str | None, typer.Option("--subject", "-s", help="new record for this subject")
    ] = None,
    category: Annotated[
        Category | None,
        typer.Option("--category", help="what the file is (checked before it is sent)"),
    ] = None,
    record: Annotated[
        str | None, typer.Option("--record", help="new version of this record instead")
    ] = None,
    content_type: Annotated[
        str | None, typer.Option("--content-type", help="default: guessed from the file name")
    ] = None,
    filename: Annotated[
        str | None,
        typer.Option("--filename", help="original file name to send (not sent unless given)"),
    ] = None,
    quiet: QuietOpt = False,
    as_json: JsonOpt = False,
    addr: AddrOpt = None,
    token: TokenOpt = None,
) -> None:
    """Store a file as a new record (--subject, --category) or a new version (--record)."""
    if (subject is None) == (record is None):
        raise typer.BadParameter("give exactly one of --subject (new record) or --record")
    if subject is not None and not category:
        raise typer.BadParameter("--category is required for a new record")
    api = client(addr, token)
    if file == "-":
        source, size = _spool_stdin()
        label = "stdin"
    else:
        path = Path(file)
        if path.is_dir():
            raise typer.BadParameter(f"{file} is a directory; give a file (or - for stdin)")
        if not path.is_file():
            raise typer.BadParameter(f"{file}: no such file")
        source, size = path.open("rb"), path.stat().st_size
        label = path.name
    ctype = content_type or (mimetypes.guess_type(file)[0] if file != "-" else None)
    ctype = ctype or "application/octet-stream"
    with source, transfer_progress(quiet or as_json) as progress:
        task = progress.add_task(f"upload {label}", total=size)
        if record is not None:
            method, url, params = "PUT", f"/v1/records/{record}/content", {"filename": filename}
        else:
            method, url = "POST", f"/v1/subjects/{subject}/records"
            params = {"category": category.value if category else None, "filename": filename}
        info = api.upload(
            method,
            url,
            source,
            size,
            params=params,
            content_type=ctype,
            advance=lambda n: progress.advance(task, n),
        )
    print_id_or(_version_numbers(info, as_json), quiet, as_json, title="record")


def _version_numbers(info: Any, as_json: bool) -> Any:
    """For people, a record's versions are their numbers (``1, 2``), not a nested list."""
    if as_json or not isinstance(info, dict) or not isinstance(info.get("versions"), list):
        return info
    return {**info, "versions": [v.get("version") for v in info["versions"]]}


def _range_header(value: str | None) -> dict[str, str]:
    if value is None:
        return {}
    match = _RANGE.match(value.strip())
    if not match or match.groups() == (None, None):
        raise typer.BadParameter("--range takes FIRST-LAST bytes (inclusive), FIRST- or -SUFFIX")
    first, last = match.groups()
    if first is not None and last is not None and int(last) < int(first):
        raise typer.BadParameter("--range: LAST must not be before FIRST")
    return {"Range": f"bytes={value.strip()}"}


def stream_to(
    api: ApiClient,
    url: str,
    output: str | None,
    *,
    params: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    label: str = "download",
    quiet: bool = False,
) -> int:
    """GET ``url`` into ``output`` (a path, or stdout for ``-``/None); return bytes written.

    A file is written whole or not at all: into ``<file>.part`` beside it, renamed over
    it at the end (through a symbolic link, the file it names). A device or a pipe
    (``-o /dev/null``, a FIFO) is written straight into: renaming over it would
    replace the device with a file.
    """
    to_stdout = output in (None, "-")
    target = None if to_stdout else Path(os.path.realpath(str(output)))
    if target is not None and target.is_dir():
        raise typer.BadParameter(f"{output} is a directory; give a file name (or - for stdout)")
    if target is not None and not target.parent.is_dir():
        raise typer.BadParameter(f"{output}: no such directory {target.parent}")
    straight = target is not None and _special(target)
    part = target.with_name(target.name + ".part") if target and not straight else None
    # opened before anything is asked of the server: a path that cannot be written
    # is refused without a read (and its audit event) on the other side
    sink: IO[bytes] = sys.stdout.buffer
    if target is not None:
        try:
            sink = (part or target).open("wb")
        except OSError as exc:
            raise OSError(exc.errno, exc.strerror, str(output)) from None
    written = 0
    try:
        with api.download(url, params=params, headers=headers) as response:
            length = response.headers.get("Content-Length")
            with transfer_progress(quiet or to_stdout, total_known=bool(length)) as progress:
                task = progress.add_task(label, total=int(length) if length else None)
                # as received, from one reused buffer (docs/benchmarks.md, P9)
                for block in response.blocks:
                    sink.write(block)
                    written += len(block)
                    progress.advance(task, len(block))
            sink.flush()
    except BaseException:
        if target is not None:
            sink.close()
        if part is not None:
            part.unlink(missing_ok=True)
        raise
    if target is not None:
        sink.close()
        if part is not None:
            os.replace(part, target)
    return written


def _special(path: Path) -> bool:
    """An existing path that is not a regular file (a device, a FIFO, a socket)."""
    try:
        return not stat.S_ISREG(path.stat().st_mode)
    except FileNotFoundError:
        return False


@records_app.command("get")
def records_get(
    record_id: str,
    output: Annotated[
        str | None,
        typer.Option("--output", "-o", help="file to write; - for stdout (default when piped)"),
    ] = None,
    version: Annotated[int | None, typer.Option("--version", "-v", min=1)] = None,
    byte_range: Annotated[
        str | None,
        typer.Option("--range", help="bytes FIRST-LAST, inclusive like HTTP (0-99: 100 bytes)"),
    ] = None,
    as_json: JsonOpt = False,
    addr: AddrOpt = None,
    token: TokenOpt = None,
) -> None:
    """Read a record's content (this is processing: it is audited and extends retention)."""
    headers = _range_header(byte_range)
    if as_json and output in (None, "-"):
        raise typer.BadParameter("--json needs --output FILE (stdout would carry the content)")
    if output is None and sys.stdout.isatty():
        raise typer.BadParameter(
            "the content is binary and stdout is a terminal: give -o FILE (or -o - to force it)"
        )
    written = stream_to(
        client(addr, token),
        f"/v1/records/{record_id}/content",
        output,
        params={"version": version},
        headers=headers,
        label=f"record {record_id[:8]}",
        quiet=as_json,
    )
    if output not in (None, "-"):
        if as_json:
            show({"record_id": record_id, "output": output, "bytes": written}, True)
        else:
            say(f"wrote {written} bytes to {output}")


@records_app.command("ls")
def records_ls(
    subject_id: str,
    limit: LimitOpt = None,
    cursor: CursorOpt = None,
    every: AllOpt = False,
    as_json: JsonOpt = False,
    addr: AddrOpt = None,
    token: TokenOpt = None,
) -> None:
    """List a subject's records (metadata only), oldest first, a page at a time."""
    path = f"/v1/subjects/{subject_id}/records"
    page = fetch(client(addr, token), path, {}, limit=limit, cursor=cursor, every=every)
    show_page(page, as_json, RECORD_COLUMNS, "records")


@records_app.command("info")
def records_info(
    record_id: str, as_json: JsonOpt = False, addr: AddrOpt = None, token: TokenOpt = None
) -> None:
    """Show a record's metadata: version, size, retain_until (not processing)."""
    info = client(addr, token).call("GET", f"/v1/records/{record_id}")
    show(_version_numbers(info, as_json), as_json, title="record")


@records_app.command("versions")
def records_versions(
    record_id: str, as_json: JsonOpt = False, addr: AddrOpt = None, token: TokenOpt = None
) -> None:
    """List a record's versions (older versions are kept under the same retention)."""
    info = client(addr, token).call("GET", f"/v1/records/{record_id}")
    versions = info.get("versions", []) if isinstance(info, dict) else []
    show(versions, as_json, columns=VERSION_COLUMNS, title="versions")


def aware(value: str | None, option: str) -> str | None:
    """Times must carry a zone (DESIGN section 7); refuse a bare date locally."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise typer.BadParameter(f"{option}: not an ISO 8601 time: {value!r}") from None
    if parsed.tzinfo is None:
        raise typer.BadParameter(f"{option}: give a zone, e.g. {value}Z or {value}+09:00")
    return parsed.isoformat()
