"""Key destruction: schedule, cancel and look up a subject's crypto-shred; execute it when due.

A destruction waits ``destruction.waiting_period``, during which it can be
cancelled; once due, ``execution`` carries it out (claim, re-check the rules,
destroy the key, wipe, delete, certify), and this module hands out its signed
certificate. No destruction is scheduled while the subject is being
transferred (and no transfer starts while one is open): ADR 0014. The queries
and the decision that scheduling and execution both ask are in ``decisions``,
re-exported here for the modules that import them from here.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from vault.context import VaultContext, require_region
from vault.domain import (
    SYSTEM,
    Actor,
    Destruction,
    DestructionState,
    ErasureStatus,
    SubjectState,
)
from vault.erasure import execution
from vault.erasure.decisions import (
    open_destruction,
    open_request,
    open_requests,
    reasons,
    subject_decision,
)
from vault.errors import Conflict, NotFound
from vault.metadata import KeyDestructionRow, session_scope
from vault.paging import Page, after, check_limit, cut, scope
from vault.residency.leases import transfer_in_progress

__all__ = [
    "Destructions",
    "open_destruction",
    "open_request",
    "open_requests",
    "reasons",
    "subject_decision",
    "to_destruction",
]


def to_destruction(row: KeyDestructionRow) -> Destruction:
    return Destruction(
        id=row.id,
        subject_id=row.subject_id,
        key_name=row.key_name,
        region=row.region,
        state=DestructionState(row.state),
        reason=row.reason,
        scheduled_at=row.scheduled_at,
        not_before=row.not_before,
        cancelled_by=row.cancelled_by,
        executed_at=row.executed_at,
    )


class Destructions:
    def __init__(self, ctx: VaultContext) -> None:
        self.ctx = ctx

    def schedule(self, subject_id: str, reason: str, actor: Actor) -> KeyDestructionRow | None:
        """Schedule the subject key's destruction (idempotent: returns None if already open)."""
        with session_scope(self.ctx.engine) as session:
            subject = self.ctx.subject(session, subject_id, for_update=True)
            if subject.state != SubjectState.ACTIVE or open_destruction(session, subject_id):
                return None
            if transfer_in_progress(session, subject_id):
                return None  # the sweep schedules it once the transfer is done
            now = self.ctx.clock()
            row = KeyDestructionRow(
                id=uuid.uuid4().hex,
                subject_id=subject_id,
                key_name=subject.key_name,
                region=subject.region,
                state=DestructionState.SCHEDULED,
                reason=reason,
                scheduled_at=now,
                not_before=self.ctx.settings.destruction.waiting_period.after(now),
            )
            session.add(row)
            request = open_request(session, subject_id)
            if request is not None:
                request.status, request.earliest_at = ErasureStatus.SCHEDULED, row.not_before
                session.add(request)
            self.ctx.audit.append(
                session,
                actor=actor,
                action="destruction.schedule",
                target=row.id,
                subject_id=subject_id,
                region=subject.region,
                purpose=reason,
            )
        return row

    @contextmanager
    def _granted(
        self, actor: Actor, action: str, destruction_id: str
    ) -> Iterator[tuple[Session, KeyDestructionRow]]:
        """Destruction ``destruction_id`` in a region ``actor`` is granted, in a transaction:
        a refusal is audited as ``action``, and ``action`` is appended when the block ends."""
        with (
            self.ctx.audit_refusal(actor, action, destruction_id),
            session_scope(self.ctx.engine) as session,
        ):
            row = session.get(KeyDestructionRow, destruction_id)
            if row is None:
                raise NotFound(f"destruction {destruction_id} not found")
            require_region(actor, row.region)
            yield session, row
            self.ctx.audit.append(
                session,
                actor=actor,
                action=action,
                target=row.id,
                subject_id=row.subject_id,
                region=row.region,
            )

    def cancel(self, destruction_id: str, actor: Actor) -> Destruction:
        with self._granted(actor, "destruction.cancel", destruction_id) as (session, row):
            if row.state != DestructionState.SCHEDULED:
                raise Conflict(
                    f"destruction {destruction_id} is {row.state}; only scheduled ones cancel"
                )
            row.state, row.cancelled_by, row.cancelled_at = (
                DestructionState.CANCELLED,
                actor.name,
                self.ctx.clock(),
            )
            session.add(row)
        return to_destruction(row)

    def destruction(self, destruction_id: str, actor: Actor) -> Destruction:
        """One destruction in a region ``actor`` is granted (NotFound for an unknown id)."""
        with self._granted(actor, "destruction.get", destruction_id) as (_, row):
            return to_destruction(row)

    def destructions(
        self, actor: Actor, state: DestructionState | None = None
    ) -> list[Destruction]:
        """Destructions in the regions ``actor`` is granted, oldest first."""
        return list(self._listing(actor, state, None, None).items)

    def destructions_page(
        self, actor: Actor, state: DestructionState | None, limit: int, cursor: str | None
    ) -> Page[Destruction]:
        """One page of them (keyset ``(scheduled_at, id)``)."""
        return self._listing(actor, state, check_limit(limit), cursor)

    def _listing(
        self, actor: Actor, state: DestructionState | None, limit: int | None, cursor: str | None
    ) -> Page[Destruction]:
        listing = scope("destructions", actor.name, state=state)
        shape = (datetime, str)
        position = self.ctx.position(actor, "destruction.list", listing, cursor, shape)
        order = (col(KeyDestructionRow.scheduled_at), col(KeyDestructionRow.id))
        with session_scope(self.ctx.engine) as session:
            query = (
                select(KeyDestructionRow)
                .where(col(KeyDestructionRow.region).in_(self.ctx.granted(actor)))
                .order_by(*order)
            )
            if state is not None:
                query = query.where(KeyDestructionRow.state == state)
            if (keyset := after(order, position)) is not None:
                query = query.where(keyset)
            if limit is not None:
                query = query.limit(limit + 1)
            rows = session.exec(query).all()
            self.ctx.audit.append(
                session, actor=actor, action="destruction.list", purpose=state or ""
            )
            found = [to_destruction(r) for r in rows]
        if limit is None:
            return Page(tuple(found))
        return cut(found, limit, lambda d: (d.scheduled_at, d.id), self.ctx.cursors, listing)

    def certificate(self, destruction_id: str, actor: Actor) -> dict[str, Any]:
        with self._granted(actor, "destruction.certificate", destruction_id) as (_, row):
            if row.certificate is None:
                raise Conflict(f"destruction {destruction_id} is {row.state}; no certificate yet")
            document: dict[str, Any] = json.loads(row.certificate)
            return document

    # -- executing ---------------------------------------------------------------

    def execute_due(
        self, actor: Actor = SYSTEM, regions: Sequence[str] | None = None
    ) -> tuple[int, int]:
        """Execute destructions past their waiting period (in ``regions``, default all)."""
        return execution.execute_due(self.ctx, actor, regions)
