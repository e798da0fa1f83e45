"""Querying the audit log for a principal: filters, region grants, pages; each query audited."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from itertools import islice

from vault.context import VaultContext
from vault.domain import Actor, AuditEvent
from vault.paging import Page, check_limit, cut, scope


@dataclass(frozen=True)
class AuditQuery:
    """The filters of an audit query (a cursor is bound to them)."""

    principal: str | None
    subject_id: str | None
    action: str | None
    since: datetime | None
    until: datetime | None
    after_seq: int = 0

    def filters(self) -> dict[str, object]:
        return {
            "principal": self.principal,
            "subject_id": self.subject_id,
            "action": self.action,
            "since": self.since,
            "until": self.until,
            "after_seq": self.after_seq,
        }


class AuditQueries:
    def __init__(self, ctx: VaultContext) -> None:
        self.ctx = ctx

    def events(self, caller: Actor, query: AuditQuery) -> Iterator[AuditEvent]:
        """Every matching event after ``query.after_seq``, in chain order."""
        return self._events(caller, query, query.after_seq)

    def page(
        self, caller: Actor, query: AuditQuery, limit: int, cursor: str | None
    ) -> Page[AuditEvent]:
        """One page of them (keyset: ``seq``)."""
        check_limit(limit)
        listing = scope("audit", caller.name, **query.filters())
        position = self.ctx.position(caller, "audit.query", listing, cursor, (int,))
        start = query.after_seq
        if position is not None and isinstance(position[0], int):
            start = max(start, position[0])
        events = list(islice(self._events(caller, query, start, limit + 1), limit + 1))
        return cut(events, limit, lambda e: (e.seq,), self.ctx.cursors, listing)

    def _events(
        self, caller: Actor, query: AuditQuery, start: int, page: int = 1000
    ) -> Iterator[AuditEvent]:
        asked = {
            "principal": query.principal,
            "action": query.action,
            "since": query.since,
            "until": query.until,
        }
        self.ctx.audit.record(
            actor=caller,
            action="audit.query",
            target=" ".join(f"{k}={v}" for k, v in asked.items() if v is not None)[:200],
            subject_id=query.subject_id or "",
        )
        return self.ctx.audit.events(
            actor=query.principal,
            subject_id=query.subject_id,
            action=query.action,
            since=query.since,
            until=query.until,
            after_seq=start,
            regions=None if caller.regions is None else self.ctx.granted(caller),
            page=page,
        )
