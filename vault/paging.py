"""Cursor paging for every list: a ``Page`` of items, and signed, opaque keyset cursors.

A list is read in a stable order on a unique sort key (e.g. ``(created_at,
id)``) and a page continues *after* the last row of the previous one
(keyset pagination, never OFFSET): rows inserted or deleted between two
pages neither repeat a row nor skip one that still exists, and a deep page
costs what the first one does (an index range scan).

A cursor is ``base64url(version ‖ tag ‖ position)``: the position is the
sort key of the last row returned, as compact JSON, and the tag an
HMAC-SHA-256 (truncated to 128 bits) over the position *and* the listing's
scope: which list, which principal, which filters. A cursor that was altered,
that another principal got, or that belongs to another list or other
filters fails the tag and is refused with ``InvalidCursor`` (400); it never
selects rows the caller could not list anyway, since region grants are
applied to every page's query (ADR 0010).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from vault.errors import InvalidCursor, InvalidInput

if TYPE_CHECKING:  # the CLI reads this module's limits without loading SQLAlchemy
    from sqlalchemy import ColumnElement

#: items per page when the caller names no limit, and the most a page may hold
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
#: the longest cursor accepted (an edge refuses longer ones before decoding)
MAX_CURSOR_CHARS = 1024

_VERSION = b"\x01"
_TAG_BYTES = 16
_LABEL = b"recvault cursor v1"

T = TypeVar("T")
#: one component of a sort key as a cursor carries it
Key = str | int | datetime


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list; ``next`` is the cursor of the following page (None: the last)."""

    items: tuple[T, ...]
    next: str | None = None


def check_limit(limit: int) -> int:
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be an integer from 1 to {MAX_LIMIT}")
    return limit


def scope(listing: str, principal: str, /, **filters: Any) -> str:
    """What a cursor is bound to: the list, the principal and every filter that shapes it."""
    shown = {k: _plain(v) for k, v in sorted(filters.items()) if v is not None}
    return json.dumps([listing, principal, shown], sort_keys=True, separators=(",", ":"))


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list | tuple | set | frozenset):
        return sorted(str(v) for v in value)
    return value if isinstance(value, bool | int | str) else str(value)


class Cursors:
    """Makes and checks the cursors of one deployment (every replica shares the secret)."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise InvalidInput("the cursor secret must be at least 16 bytes")
        self._key = hmac.new(secret, _LABEL, hashlib.sha256).digest()

    def _tag(self, scope: str, payload: bytes) -> bytes:
        mac = hmac.new(self._key, scope.encode() + b"\x00" + payload, hashlib.sha256)
        return mac.digest()[:_TAG_BYTES]

    def encode(self, scope: str, position: Sequence[Key]) -> str:
        values = [v.isoformat() if isinstance(v, datetime) else v for v in position]
        payload = json.dumps(values, separators=(",", ":")).encode()
        token = _VERSION + self._tag(scope, payload) + payload
        return base64.urlsafe_b64encode(token).rstrip(b"=").decode()

    def decode(
        self, scope: str, cursor: str | None, shape: Sequence[type[Key]]
    ) -> tuple[Key, ...] | None:
        """The position in ``cursor`` (None for the first page); ``InvalidCursor`` if not ours."""
        if cursor is None:
            return None
        if not isinstance(cursor, str) or not cursor or len(cursor) > MAX_CURSOR_CHARS:
            raise InvalidCursor()
        try:
            token = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        except (binascii.Error, ValueError):
            raise InvalidCursor() from None
        version, tag, payload = token[:1], token[1 : 1 + _TAG_BYTES], token[1 + _TAG_BYTES :]
        if version != _VERSION or not hmac.compare_digest(tag, self._tag(scope, payload)):
            raise InvalidCursor()
        try:
            values = json.loads(payload)
        except ValueError:
            raise InvalidCursor() from None
        if not isinstance(values, list) or len(values) != len(shape):
            raise InvalidCursor()
        return tuple(_typed(v, kind) for v, kind in zip(values, shape, strict=True))


def _typed(value: Any, kind: type[Key]) -> Key:
    if kind is datetime:
        if not isinstance(value, str):
            raise InvalidCursor()
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise InvalidCursor() from None
        if parsed.tzinfo is None:
            raise InvalidCursor()
        return parsed
    if kind is int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise InvalidCursor()
        return value
    if not isinstance(value, str):
        raise InvalidCursor()
    return value


def after(columns: Sequence[Any], position: Sequence[Key] | None) -> ColumnElement[bool] | None:
    """``(c1, c2, ...) > position``: a row value comparison both engines run on an index."""
    from sqlalchemy import tuple_

    if position is None:
        return None
    if len(columns) == 1:
        result: ColumnElement[bool] = columns[0] > position[0]
        return result
    # a plain tuple on the right is bound element by element with the columns' own types
    result = tuple_(*columns) > tuple(position)
    return result


def cut(
    rows: Sequence[T],
    limit: int,
    position: Callable[[T], Sequence[Key]],
    cursors: Cursors,
    listing_scope: str,
) -> Page[T]:
    """A page of the first ``limit`` rows of ``limit + 1`` fetched; ``next`` if there were more."""
    more = len(rows) > limit
    items = tuple(rows[:limit])
    token = cursors.encode(listing_scope, position(items[-1])) if more and items else None
    return Page(items, token)
