"""The residency report's sections, a page at a time: one region's objects, one region's keys.

The signed report (``report``) is the proof: per region its counts, and the
violations (in detail up to a cap). A section lists every entry behind those
counts for one region, in key order, from a cursor on: each object the
region's store holds or should hold, each subject key its key provider
holds or should hold, with what the metadata DB expects of it and the
verdict (``ok`` or the kind of violation). Pages are not signed: they are a
view for walking the detail (past the report's cap, too), read at the time
of each page, not a proof (ADR 0010). Each page is audited.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice

from vault.audit.checkpoints import is_checkpoint_key
from vault.context import VaultContext, require_region
from vault.domain import Actor
from vault.errors import NotFound
from vault.paging import Page, check_limit, cut, scope
from vault.residency.report import ViolationKind, judge
from vault.residency.streams import (
    Expected,
    Presence,
    Window,
    expected_keys,
    expected_objects,
    merge_sorted,
)


class Section(enum.StrEnum):
    OBJECTS = "objects"
    KEYS = "keys"


@dataclass(frozen=True)
class ResidencyEntry:
    """One object or subject key of a region, as the store or key provider and the DB see it."""

    key: str
    #: listed by this region's store (objects) or key provider (keys)
    present: bool
    #: the region the metadata DB puts it in ('' when the DB does not know it)
    expected_region: str
    #: what the DB says it is ('' when the DB does not know it)
    expected: str
    #: ``ok``, or the kind of violation the report counts it as
    verdict: str
    detail: str = ""


class ResidencySections:
    def __init__(self, ctx: VaultContext) -> None:
        self.ctx = ctx

    def page(
        self, actor: Actor, region: str, section: Section, limit: int, cursor: str | None
    ) -> Page[ResidencyEntry]:
        check_limit(limit)
        action = f"residency.{section.value}"
        listing = scope(f"residency-{section.value}", actor.name, region=region)
        with self.ctx.audit_refusal(actor, action, ""):
            if region not in self.ctx.regions:  # a path names it: no such resource
                raise NotFound(f"no such region: {region}")
            require_region(actor, region)
            where = self.ctx.region(region)
            position = self.ctx.position(actor, action, listing, cursor, (str,))
        start = str(position[0]) if position else ""
        window = Window(after=start or None, page=limit + 1, keyset=True)
        if section is Section.OBJECTS:
            listing_size = min(1000, limit + 1)
            listed: Iterator[str] = (
                o.key
                for o in where.store.list("", page_size=listing_size, start_after=start)
                if not is_checkpoint_key(o.key)  # counted apart by the report
            )
            expected = expected_objects(self.ctx.engine, window)
            what = "object"
        else:
            names = sorted(n for n in where.keys.list_keys() if n > start)
            listed, expected = iter(names), expected_keys(self.ctx.engine, window)
            what = "subject key"
        entries = _entries(region, merge_sorted(listed, expected), what)
        found = list(islice(entries, limit + 1))
        self.ctx.audit.record(
            actor=actor, action=action, target=region, outcome=f"entries:{min(len(found), limit)}"
        )
        return cut(found, limit, lambda e: (e.key,), self.ctx.cursors, listing)


def _entries(
    here: str, merged: Iterator[tuple[str, bool, Expected | None]], what: str
) -> Iterator[ResidencyEntry]:
    """The entries that concern region ``here``: present in it, or expected in it."""
    for key, present, expected in merged:
        if not present and (
            expected is None or expected.region != here or expected.presence is Presence.GONE
        ):
            continue  # another region's, or absent as it should be
        verdict = judge(here, present, expected, what)
        if verdict is None:
            kind, detail = "ok", ""
        else:
            missing, detail, _ = verdict
            kind = _kind(what, missing).value
        yield ResidencyEntry(
            key=key,
            present=present,
            expected_region=expected.region if expected else "",
            expected=expected.what if expected else "",
            verdict=kind,
            detail=detail,
        )


def _kind(what: str, missing: bool) -> ViolationKind:
    if what == "object":
        return ViolationKind.MISSING_OBJECT if missing else ViolationKind.STRAY_OBJECT
    return ViolationKind.MISSING_KEY if missing else ViolationKind.STRAY_KEY
