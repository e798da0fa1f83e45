"""The console's lists: ids a person types or follows, the page size and cursor of a
paged list, and the links under its table (First, Next, back to the list after a form)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit

from fastapi import Request

from vault.errors import InvalidInput
from vault.paging import MAX_LIMIT

ID = re.compile(r"[0-9a-f]{32}")
#: rows a list shows per page unless the address asks for another ``limit`` (1..MAX_LIMIT)
PAGE_SIZE = 50
LIMIT = re.compile(r"[0-9]{1,4}")


def an_id(text: str, what: str = "id") -> str:
    """An internal id (32 hex digits) typed or linked by a person, or a readable refusal."""
    value = text.strip().lower()
    if not ID.fullmatch(value):
        raise InvalidInput(f"{what} must be 32 hexadecimal digits")
    return value


@dataclass(frozen=True)
class Paging:
    """The ``limit`` and ``cursor`` of a paged list, as the address gave them (checked)."""

    limit: int
    cursor: str | None


def paging(limit: str = "", cursor: str = "") -> Paging:
    """Rows per page (``PAGE_SIZE`` unless given; 1..MAX_LIMIT like the API) and the cursor."""
    text = limit.strip()
    size = PAGE_SIZE
    if text:
        if not LIMIT.fullmatch(text) or not 1 <= int(text) <= MAX_LIMIT:
            raise InvalidInput(f"rows per page (limit) is a whole number from 1 to {MAX_LIMIT}")
        size = int(text)
    return Paging(size, cursor.strip() or None)


@dataclass(frozen=True)
class Pager:
    """What a list says under its table: rows shown, the page size, First and Next links."""

    label: str  # names the list for the navigation landmark, e.g. "legal holds"
    shown: int
    size: int
    first_url: str | None
    next_url: str | None

    @property
    def counted(self) -> str:
        """``1 record``, ``2 records`` (every list's label is a regular plural)."""
        return f"{self.shown} {self.label.removesuffix('s') if self.shown == 1 else self.label}"


def address(request: Request, drop: set[str], extra: list[tuple[str, str]]) -> str:
    """This page's address without the parameters ``drop`` and with ``extra``."""
    kept = [(k, v) for k, v in request.query_params.multi_items() if k not in drop]
    query = urlencode(kept + extra)
    return request.url.path + (f"?{query}" if query else "")


def this_page(request: Request) -> str:
    """The address of the page shown (its filters and cursor), without a one-off notice."""
    return address(request, {"done"}, [])


def back_to(page: str, path: str, keep: tuple[str, ...], done: str) -> str:
    """Where a form's action returns: the list page it was sent from, with a notice.

    ``page`` comes from the form (``this_page`` when it was drawn): only an address
    of ``path`` itself is followed, and only its ``keep`` parameters; anything else
    returns to the list's first page. A stale cursor is refused by the page itself.
    """
    split = urlsplit(page)
    query = [(k, v) for k, v in parse_qsl(split.query) if k in keep]
    if split.scheme or split.netloc or split.path != path or len(page) > 2048:
        query = []
    return f"{path}?" + urlencode([*query, ("done", done)])


def pager(
    request: Request,
    label: str,
    shown: int,
    asked: Paging,
    next_cursor: str | None,
    param: str = "cursor",
) -> Pager:
    """The links of one paged list: the same address (filters, ``limit``) with another cursor.

    A one-off notice (``done``) is not carried over to the other pages.
    """
    drop = {param, "done"}
    first = address(request, drop, []) if asked.cursor else None
    following = address(request, drop, [(param, next_cursor)]) if next_cursor else None
    return Pager(label, shown, asked.limit, first, following)
