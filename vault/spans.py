"""Where a request's time goes: named spans summed per request (authentication, DB, keys, ...).

The API binds a fresh ``Spans`` for each request (``api.logs.RequestContext``);
the code a request runs adds the time of its parts with ``span(name)``. Worker
threads started with a copy of the request's context (``anyio.to_thread``) add
to the same ``Spans``; outside a request ``span`` costs one context lookup.
The totals go to the access line and to ``recvault_request_span_seconds``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

#: span names used by recvault
AUTH, DB, KEYS, AUDIT, STORE = "auth", "db", "keys", "audit", "store"


class Spans:
    """Seconds per span name for one request (appends only: safe from several threads)."""

    __slots__ = ("_parts",)

    def __init__(self) -> None:
        self._parts: list[tuple[str, float]] = []

    def add(self, name: str, seconds: float) -> None:
        self._parts.append((name, seconds))

    def totals(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for name, seconds in list(self._parts):
            out[name] = out.get(name, 0.0) + seconds
        return out


_CURRENT: ContextVar[Spans | None] = ContextVar("recvault_spans", default=None)


@contextmanager
def spans_bound() -> Iterator[Spans]:
    """A fresh ``Spans`` for the code run inside (one request)."""
    spans = Spans()
    token = _CURRENT.set(spans)
    try:
        yield spans
    finally:
        _CURRENT.reset(token)


@contextmanager
def span(name: str) -> Iterator[None]:
    """Add the time spent inside to the current request's span ``name`` (if any)."""
    spans = _CURRENT.get()
    if spans is None:
        yield
        return
    started = time.perf_counter()
    try:
        yield
    finally:
        spans.add(name, time.perf_counter() - started)


def add_span(name: str, seconds: float) -> None:
    """Add ``seconds`` measured elsewhere to the current request's span ``name``."""
    spans = _CURRENT.get()
    if spans is not None:
        spans.add(name, seconds)
