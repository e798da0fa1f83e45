"""Paged lists on the command line: ``--limit``, ``--cursor``, and ``--all`` to follow ``next``.

One page is the API's answer as it is (``items`` and ``next``, plus a plan's
header); ``--all`` follows ``next`` until the last page and answers one page
holding every item (``next`` null). For people, the cursor of a next page is
said on stderr, so stdout keeps only the table.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

import typer

from vault.cli.http import ApiClient
from vault.cli.output import emit_json, say, show_rows
from vault.paging import DEFAULT_LIMIT, MAX_LIMIT

LimitOpt = Annotated[
    int | None,
    typer.Option(
        "--limit",
        min=1,
        max=MAX_LIMIT,
        help=f"items per page (default {DEFAULT_LIMIT}; with --all, {MAX_LIMIT})",
    ),
]
CursorOpt = Annotated[
    str | None, typer.Option("--cursor", help="start at this page (a previous answer's next)")
]
AllOpt = Annotated[bool, typer.Option("--all", help="follow next to the last page")]


def fetch(
    api: ApiClient,
    path: str,
    params: dict[str, Any],
    *,
    limit: int | None,
    cursor: str | None,
    every: bool,
) -> dict[str, Any]:
    """One page of ``path``, or with ``every`` all pages from ``cursor`` on, as one page."""
    size = limit or (MAX_LIMIT if every else DEFAULT_LIMIT)
    items: list[Any] = []
    header: dict[str, Any] = {}
    following = cursor
    while True:
        answer = api.call("GET", path, params={**params, "limit": size, "cursor": following})
        if not isinstance(answer, dict) or not isinstance(answer.get("items"), list):
            raise typer.BadParameter(f"{path} did not answer a page")
        header = {k: v for k, v in answer.items() if k not in ("items", "next")}
        items.extend(answer["items"])
        following = answer.get("next")
        if not every or following is None:
            return {**header, "items": items, "next": following}


def show_page(
    page: dict[str, Any], as_json: bool, columns: Sequence[str] | None, title: str
) -> None:
    """The page as JSON (with ``next``), or its items as a table and where the next page is."""
    if as_json:
        emit_json(page)
        return
    show_rows(page["items"], columns, title)
    if page.get("next"):
        say(f"more {title}: --cursor {page['next']} (or --all)")
