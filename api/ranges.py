"""Parse a ``Range`` request header (RFC 9110 section 14) into what the vault needs.

One range only: a multi-range request is answered with the whole record (200),
which RFC 9110 allows. Another unit than ``bytes`` is ignored the same way. A
malformed byte range (``bytes=5-2``, ``bytes=x``) is refused with 416.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SPEC = re.compile(r"^(\d*)-(\d*)$")
#: an open-ended range is clamped by the vault to the record's size
OPEN_END = 2**62


@dataclass(frozen=True)
class Span:
    """``bytes=a-b`` or ``bytes=a-``: half-open ``[start, stop)``."""

    start: int
    stop: int


@dataclass(frozen=True)
class Suffix:
    """``bytes=-n``: the last ``n`` bytes."""

    length: int


@dataclass(frozen=True)
class Malformed:
    """A byte range that cannot be satisfied whatever the size."""


RangeSpec = Span | Suffix | Malformed


def parse_range(header: str | None) -> RangeSpec | None:
    """``None`` means: send the whole record."""
    if header is None:
        return None
    unit, sep, ranges = header.strip().partition("=")
    if not sep or unit.strip().lower() != "bytes":
        return None
    specs = [s.strip() for s in ranges.split(",")]
    if len(specs) != 1:
        return None
    match = _SPEC.match(specs[0])
    if match is None or len(specs[0]) > 40:
        return Malformed()
    first, last = match.groups()
    if not first and not last:
        return Malformed()
    if not first:
        return Suffix(min(int(last), OPEN_END))
    start = int(first)
    if start >= OPEN_END:
        # no record is that long: unsatisfiable whatever the size (416, not a bad request)
        return Malformed()
    if not last:
        return Span(start, OPEN_END)
    end = int(last)
    if end < start:
        return Malformed()
    return Span(start, min(end + 1, OPEN_END))


def resolve_suffix(spec: Suffix | Malformed, size: int) -> tuple[int, int] | None:
    """The half-open range of a suffix on a record of ``size`` bytes; None if unsatisfiable."""
    if isinstance(spec, Malformed) or spec.length == 0 or size == 0:
        return None
    return max(0, size - spec.length), size
