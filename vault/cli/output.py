"""How client commands show answers: JSON for machines, rich tables for people.

Progress bars and spinners go to stderr and only to a terminal, so stdout
stays clean for ``--json`` and for content written to a pipe.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from functools import cache
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # rich is imported when something is drawn: a get to a file needs none of it
    from rich.console import Console
    from rich.table import Table


@cache
def console() -> Console:
    """Tables and text for people, on stdout.

    Into a pipe or a file (and no ``COLUMNS`` set), a table is as wide as its
    rows: one line per row, whole, for ``grep`` and ``less -S``, where rich
    would fold it to 80 columns.
    """
    from rich.console import Console

    piped = not sys.stdout.isatty() and "COLUMNS" not in os.environ
    return Console(highlight=False, soft_wrap=True, width=_UNFOLDED if piped else None)


#: the width of a console that folds nothing (a table is only as wide as it needs)
_UNFOLDED = 100_000


@cache
def status_console() -> Console:
    """Progress and status lines, on stderr."""
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def emit_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, sort_keys=True, default=str) + "\n")


#: an instant as the API writes it (``2026-12-04T21:28:27.964758Z``)
_INSTANT = re.compile(r"(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(?:\.\d+)?(?:Z|\+00:00)")


def _cell(value: Any) -> str:
    """A value as people read it; an instant to the second (``--json`` keeps it exact)."""
    if isinstance(value, str) and (instant := _INSTANT.fullmatch(value)):
        # a space lets a narrow column fold it into date and time
        return f"{instant[1]} {instant[2]}Z"
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        if all(not isinstance(v, dict | list) for v in value):
            return ", ".join(str(v) for v in value) or "-"
        return f"{len(value)} item(s)"
    if isinstance(value, dict):
        return ", ".join(f"{k}={_cell(v)}" for k, v in value.items()) or "-"
    return str(value)


def show_object(value: Any, title: str | None = None) -> None:
    """One object as a two-column table (field, value)."""
    if not isinstance(value, dict):
        console().print(_cell(value), markup=False)
        return
    rows = [(str(key), _cell(item)) for key, item in value.items()]
    ids = [len(cell) for key, cell in rows if _is_id_column(key)]
    fields = max((len(key) for key, _ in rows), default=0)
    from rich.table import Table

    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold", min_width=max(ids, default=None))
    for key, cell in rows:
        table.add_row(key, cell)
    _print_at_least(table, fields + max(ids, default=0) + 7)


def show_rows(
    rows: Sequence[Any], columns: Sequence[str] | None = None, title: str | None = None
) -> None:
    """A list of objects as a table; columns default to the keys of the first row."""
    if not rows:
        console().print(f"{title}: none" if title else "none", markup=False)
        return
    dict_rows = [r if isinstance(r, dict) else {"value": r} for r in rows]
    chosen = [c for c in (columns or []) if any(c in r for r in dict_rows)]
    if not chosen:
        chosen = list(dict_rows[0].keys())
    cells = [[_cell(row.get(c)) for c in chosen] for row in dict_rows]
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    needed = 1
    for index, name in enumerate(chosen):
        widest = max(len(name), *(len(line[index]) for line in cells))
        if _is_id_column(name):
            # an id is copied into the next command: it is never cut or folded
            table.add_column(name, no_wrap=True, min_width=widest)
            needed += widest + 3
        else:
            table.add_column(name, overflow="fold")
            needed += min(widest, _NARROWEST) + 3
    for line in cells:
        table.add_row(*line)
    _print_at_least(table, needed)


def _print_at_least(table: Table, needed: int) -> None:
    """Print ``table``; wider than the terminal (or a pipe's 80) when its ids need it."""
    if needed > console().width:
        from rich.console import Console

        Console(highlight=False, soft_wrap=True, width=needed).print(table)
    else:
        console().print(table)


#: the width other columns may shrink to before a table is printed wider than the terminal
_NARROWEST = 10


def _is_id_column(name: str) -> bool:
    return name in ("id", "target", "object_key", "key_name") or name.endswith("_id")


def show_by_region(regions: dict[str, Any], title: str) -> None:
    """Per-region figures as one column per region and one row per figure (headers stay whole)."""
    from rich.table import Table

    names = list(regions)
    table = Table("", *names, title=title, title_justify="left")
    fields: list[str] = []
    for figures in regions.values():
        fields += [f for f in (figures or {}) if f not in fields and f not in ("region", "name")]
    for field in fields:
        table.add_row(field, *(_cell((regions[n] or {}).get(field)) for n in names))
    console().print(table)


def show(
    value: Any,
    as_json: bool,
    *,
    columns: Sequence[str] | None = None,
    title: str | None = None,
) -> None:
    if as_json:
        emit_json(value)
    elif isinstance(value, list):
        show_rows(value, columns, title)
    else:
        show_object(value, title)


def _stderr_for_people() -> bool:
    """Whether stderr is a terminal as rich would judge it; answered without rich when it
    plainly is not (no terminal and none of rich's overriding variables set)."""
    if not sys.stderr.isatty() and not any(
        name in os.environ for name in ("FORCE_TERMINAL", "TTY_COMPATIBLE", "TTY_INTERACTIVE")
    ):
        return False
    return status_console().is_terminal


def say(message: str) -> None:
    """A human line on stderr (kept off stdout so pipes get only data)."""
    if _stderr_for_people():
        status_console().print(message, markup=False)
    else:  # a log or a pipe: the line as it is, never wrapped at 80 columns
        sys.stderr.write(message + "\n")
        sys.stderr.flush()


class Tracker(Protocol):
    """What a transfer reports its progress to (``transfer_progress``)."""

    def add_task(self, description: str, *, total: float | None = None) -> Any: ...

    def advance(self, task_id: Any, advance: float = 1) -> None: ...


class _Silent:
    """Progress nobody sees: off a terminal, or asked to be quiet."""

    def __enter__(self) -> _Silent:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def add_task(self, description: str, *, total: float | None = None) -> int:
        return 0

    def advance(self, task_id: Any, advance: float = 1) -> None:
        return None


def transfer_progress(
    quiet: bool = False, *, total_known: bool = True, on: Console | None = None
) -> AbstractContextManager[Tracker]:
    """A byte progress bar for uploads and downloads (silent off a terminal).

    Without a known total (an export is zipped as it streams) it counts bytes
    and spins, instead of showing a bar against a made-up ``?`` total.
    """
    if quiet or (on is None and not _stderr_for_people()):
        return _Silent()
    target = on or status_console()
    if not target.is_terminal:
        return _Silent()
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        FileSizeColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
        TransferSpeedColumn,
    )

    columns = (
        (BarColumn(), DownloadColumn()) if total_known else (SpinnerColumn(), FileSizeColumn())
    )
    return Progress(
        TextColumn("{task.description}"),
        *columns,
        TransferSpeedColumn(),
        TimeElapsedColumn(),
        console=target,
        transient=False,
    )


@contextmanager
def spinner(message: str, quiet: bool = False) -> Iterator[None]:
    """A spinner while the server works on something of unknown size."""
    if quiet or not _stderr_for_people():
        yield
        return
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=status_console(),
        transient=True,
    )
    with progress:
        progress.add_task(message, total=None)
        yield
