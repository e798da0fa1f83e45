"""Sorted streams for the residency report: what the metadata DB expects, a page at a time.

Object keys and key names are compared as Python strings (code point order),
which is the order S3 lists keys in (UTF-8 bytes) for the ASCII keys recvault
writes. The DB is asked for the same order: SQLite's default BINARY collation,
and ``COLLATE "C"`` on PostgreSQL (a database's default collation may sort
``/`` or case differently). SQLite is read in keyset pages, each its own short
transaction, so a long report never holds the writer lock; PostgreSQL streams
one server-side cursor (one sort, no lock).
"""

from __future__ import annotations

import enum
import heapq
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from vault.domain import (
    RemnantState,
    SubjectState,
    TransferItemState,
    TransferState,
    VersionState,
)
from vault.errors import Unavailable, VaultError
from vault.metadata import (
    RecordRow,
    RecordVersionRow,
    ShreddedRemnantRow,
    SubjectRow,
    TransferItemRow,
    TransferRow,
)

PAGE = 1000


class Presence(enum.StrEnum):
    #: must be present in ``region`` and absent from every other region
    LIVE = "live"
    #: may be present, in ``region`` only (uncommitted writes, transfers in progress)
    MAYBE = "maybe"
    #: must be absent everywhere (erased versions, destroyed or transferred-away keys)
    GONE = "gone"


@dataclass(frozen=True, slots=True)
class Expected:
    key: str
    region: str
    presence: Presence
    #: what the DB says the key is, for the violation's detail
    what: str
    #: among equal keys the lowest rank wins (record versions and subjects first)
    rank: int = 0
    transit: bool = False
    #: a shredded remnant: its key is destroyed, the store keeps it under Object Lock
    remnant: bool = False


class ListingOutOfOrder(VaultError):
    """A listing was not in ascending key order; the merge cannot be trusted."""

    code = "listing-out-of-order"


@dataclass(frozen=True)
class Window:
    """Where a stream starts (after ``after``) and how it reads: a report streams
    everything; a page of a report's section reads keyset pages of ``page`` rows."""

    after: str | None = None
    page: int = PAGE
    keyset: bool = False


WHOLE = Window()


def _rows(engine: Engine, stmt: Any, column: Any, window: Window = WHOLE) -> Iterator[Any]:
    """Yield the rows of ``stmt`` in ascending ``column`` order, in pages."""
    page = window.page
    postgres = engine.dialect.name == "postgresql"
    ordered_by = column.collate("C") if postgres else column
    try:
        if postgres and not window.keyset and window.after is None:
            ordered = stmt.order_by(ordered_by)
            with engine.connect() as conn:
                result = conn.execution_options(stream_results=True, yield_per=page).execute(
                    ordered
                )
                yield from result
            return
        last: str | None = window.after
        while True:
            query = stmt if last is None else stmt.where(ordered_by > last)
            with engine.connect() as conn:
                rows = conn.execute(query.order_by(ordered_by).limit(page)).all()
                conn.rollback()
            yield from rows
            if len(rows) < page:
                return
            last = rows[-1][0]
    except sa_exc.OperationalError as exc:
        raise Unavailable("metadata database unavailable") from exc


_VERSION_STATES = {
    VersionState.COMMITTED: (Presence.LIVE, "a committed version"),
    VersionState.PENDING: (Presence.MAYBE, "an uncommitted write"),
    VersionState.ERASED: (Presence.GONE, "an erased version"),
}


def _version(row: Any) -> Expected:
    key, state, region, subject_state = row
    presence, what = _VERSION_STATES.get(state, (Presence.GONE, f"a {state} version"))
    if subject_state in (SubjectState.DESTROYED, SubjectState.TRANSFERRED):
        presence, what = Presence.GONE, f"a {subject_state} subject"
    elif subject_state == SubjectState.DESTROYING and presence is Presence.LIVE:
        presence, what = Presence.MAYBE, "a subject being erased"
    return Expected(key, region, presence, what)


def expected_objects(engine: Engine, window: Window = WHOLE) -> Iterator[Expected]:
    """Every object key the DB knows of, ascending, with where it may or must be."""
    versions = (
        select(
            RecordVersionRow.object_key,
            RecordVersionRow.state,
            SubjectRow.region,
            SubjectRow.state,
        )
        .join(RecordRow, col(RecordRow.id) == col(RecordVersionRow.record_id))
        .join(SubjectRow, col(SubjectRow.id) == col(RecordRow.subject_id))
    )
    items = select(
        TransferItemRow.new_object_key, TransferRow.to_region, TransferItemRow.state
    ).join(TransferRow, col(TransferRow.id) == col(TransferItemRow.transfer_id))
    copies = items.where(
        col(TransferRow.state).in_((TransferState.COPYING, TransferState.SWITCHING))
    )
    dropped = items.where(TransferRow.state == TransferState.CLEANING).where(
        TransferItemRow.state == TransferItemState.DROPPED
    )
    sources = select(TransferItemRow.old_object_key, TransferRow.from_region).join(
        TransferRow, col(TransferRow.id) == col(TransferItemRow.transfer_id)
    )
    leaving = sources.where(TransferRow.state == TransferState.CLEANING)
    new_key, old_key = col(TransferItemRow.new_object_key), col(TransferItemRow.old_object_key)
    # A shredded remnant outranks its erased version or finished transfer: it may stay,
    # in its region only, until the sweep deletes it.
    remnants = select(ShreddedRemnantRow.object_key, ShreddedRemnantRow.region).where(
        ShreddedRemnantRow.state == RemnantState.SHREDDED
    )
    remnant_key = col(ShreddedRemnantRow.object_key)
    return _unique(
        heapq.merge(
            (_remnant(r[0], r[1]) for r in _rows(engine, remnants, remnant_key, window)),
            (
                _version(r)
                for r in _rows(engine, versions, col(RecordVersionRow.object_key), window)
            ),
            (
                _transit(r[0], r[1], "a transfer's copy")
                for r in _rows(engine, copies, new_key, window)
            ),
            (
                _transit(r[0], r[1], "a dropped copy")
                for r in _rows(engine, dropped, new_key, window)
            ),
            (
                _transit(r[0], r[1], "a transferred source")
                for r in _rows(engine, leaving, old_key, window)
            ),
            key=lambda e: (e.key, e.rank),
        )
    )


def _remnant(key: str, region: str) -> Expected:
    return Expected(key, region, Presence.MAYBE, "a shredded remnant", rank=-1, remnant=True)


def _transit(key: str, region: str, what: str) -> Expected:
    return Expected(key, region, Presence.MAYBE, what, rank=1, transit=True)


_SUBJECT_KEYS = {
    SubjectState.ACTIVE: (Presence.LIVE, "a live subject"),
    SubjectState.DESTROYING: (Presence.MAYBE, "a subject being erased"),
    SubjectState.DESTROYED: (Presence.GONE, "an erased subject"),
    SubjectState.TRANSFERRED: (Presence.GONE, "a transferred subject"),
}


def expected_keys(engine: Engine, window: Window = WHOLE) -> Iterator[Expected]:
    """Every subject-key name the DB knows of, ascending, with where it may or must be."""
    subjects = select(SubjectRow.key_name, SubjectRow.region, SubjectRow.state)
    olds = select(TransferRow.old_key_name, TransferRow.from_region, TransferRow.state).where(
        col(TransferRow.state).in_((TransferState.CLEANING, TransferState.DONE))
    )
    news = select(TransferRow.new_key_name, TransferRow.to_region).where(
        col(TransferRow.state).in_((TransferState.COPYING, TransferState.SWITCHING))
    )

    def subject(row: Any) -> Expected:
        presence, what = _SUBJECT_KEYS.get(row[2], (Presence.GONE, f"a {row[2]} subject"))
        return Expected(row[0], row[1], presence, what)

    def old(row: Any) -> Expected:
        if row[2] == "cleaning":
            return _transit(row[0], row[1], "a subject leaving this region")
        return Expected(row[0], row[1], Presence.GONE, "a subject transferred out", rank=1)

    return _unique(
        heapq.merge(
            (subject(r) for r in _rows(engine, subjects, col(SubjectRow.key_name), window)),
            (old(r) for r in _rows(engine, olds, col(TransferRow.old_key_name), window) if r[0]),
            (
                _transit(r[0], r[1], "a transfer's new key")
                for r in _rows(engine, news, col(TransferRow.new_key_name), window)
            ),
            key=lambda e: (e.key, e.rank),
        )
    )


def _unique(expected: Iterable[Expected]) -> Iterator[Expected]:
    last: str | None = None
    for item in expected:
        if item.key != last:
            yield item
            last = item.key


def _ascending(keys: Iterable[str], what: str) -> Iterator[str]:
    last: str | None = None
    for key in keys:
        if last is not None and key <= last:
            raise ListingOutOfOrder(f"{what} not in ascending order at {key!r}")
        yield key
        last = key


def merge_sorted(
    listed: Iterator[str], expected: Iterator[Expected]
) -> Iterator[tuple[str, bool, Expected | None]]:
    """Walk both ascending streams once: ``(key, present in listing, what the DB expects)``."""
    listing = _ascending(listed, "listing")
    have = next(listing, None)
    want = next(expected, None)
    last_want: str | None = None
    while have is not None or want is not None:
        if want is not None and last_want is not None and want.key <= last_want:
            raise ListingOutOfOrder(f"metadata DB not in ascending order at {want.key!r}")
        if want is None or (have is not None and have < want.key):
            assert have is not None
            yield have, True, None
            have = next(listing, None)
        elif have is None or want.key < have:
            yield want.key, False, want
            last_want, want = want.key, next(expected, None)
        else:
            yield have, True, want
            have = next(listing, None)
            last_want, want = want.key, next(expected, None)
