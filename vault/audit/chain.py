"""The tamper-evident audit log: an append-only, keyed hash chain.

Each event's hash is HMAC-SHA-256(audit key, previous hash ‖ canonical event),
so editing, deleting or reordering any row breaks every later link, and a
copy of the DB alone is not enough to forge a consistent chain. Appenders
lock the single ``audit_head`` row, which serializes them on PostgreSQL
(``FOR UPDATE``) as SQLite's ``BEGIN IMMEDIATE`` does. Nothing in recvault
updates or deletes audit rows. Targets are pseudonymous ids only.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import insert, update
from sqlalchemy import select as sa_select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from vault.audit.context import REQUEST_ID
from vault.domain import Actor, AuditEvent, AuditVerification
from vault.metadata import AuditDetachedRow, AuditEventRow, AuditHeadRow, session_scope
from vault.spans import AUDIT, span

EVENTS = AuditEventRow.__table__  # type: ignore[attr-defined]


class SubjectLike(Protocol):
    """Anything that names a subject and its region (a subject row, a ``Subject``)."""

    @property
    def id(self) -> str: ...

    @property
    def region(self) -> str: ...


GENESIS = "0" * 64
HEAD = AuditHeadRow.__table__  # type: ignore[attr-defined]
EVENTS = AuditEventRow.__table__  # type: ignore[attr-defined]
_HEAD_ID = 1


@dataclass(frozen=True)
class Anchor:
    """What a signed checkpoint says of the chain: the hash of the event at ``seq``."""

    seq: int
    head_hash: str


@dataclass(frozen=True)
class _Walk:
    verdict: AuditVerification
    #: the chain's length: the last seq reached (events of detached months included)
    events: int
    hash_at_anchor: str
    #: the last seq of the detached months (0: none), where the walk began
    start_seq: int = 0


def _with_anchor(
    verdict: AuditVerification, anchor: Anchor | None, events: int
) -> AuditVerification:
    if anchor is None:
        return verdict
    return replace(
        verdict,
        checkpoint_seq=anchor.seq,
        events_after_checkpoint=max(0, events - anchor.seq),
        checkpoint_status="found",
    )


_FIELDS = ("ts", "actor", "role", "action", "target", "subject_id", "region", "purpose", "outcome")


def _canonical(seq: int, event: dict[str, Any]) -> bytes:
    body = {name: event[name] for name in _FIELDS}
    body["seq"] = seq
    body["ts"] = event["ts"].isoformat(timespec="microseconds")
    if event.get("request_id"):  # chained when present; events from before it hash as they did
        body["request_id"] = event["request_id"]
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


@dataclass(frozen=True)
class AuditEntry:
    """One event to append with ``append_many`` (the actor is shared)."""

    action: str
    target: str = ""
    subject_id: str = ""
    region: str = ""
    purpose: str = ""
    outcome: str = "ok"


class AuditLog:
    """Append and verify the audit chain."""

    def __init__(self, engine: Engine, chain_key: bytes, clock: Callable[[], datetime]) -> None:
        self._engine = engine
        self._key = hmac.new(chain_key, b"recvault/audit-chain", hashlib.sha256).digest()
        self._clock = clock

    def _link(self, prev_hash: str, seq: int, event: dict[str, Any]) -> str:
        return hmac.new(
            self._key, prev_hash.encode() + _canonical(seq, event), hashlib.sha256
        ).hexdigest()

    def about(
        self,
        session: Session,
        actor: Actor,
        action: str,
        subject: SubjectLike,
        *,
        target: str = "",
        purpose: str = "",
        outcome: str = "ok",
    ) -> int:
        """Append an event about one subject: its id and region come from ``subject``."""
        return self.append(
            session,
            actor=actor,
            action=action,
            target=target or subject.id,
            subject_id=subject.id,
            region=subject.region,
            purpose=purpose,
            outcome=outcome,
        )

    def append(
        self,
        session: Session,
        *,
        actor: Actor,
        action: str,
        target: str = "",
        subject_id: str = "",
        region: str = "",
        purpose: str = "",
        outcome: str = "ok",
    ) -> int:
        """Append one event inside the caller's transaction; return its sequence number."""
        entry = AuditEntry(action, target, subject_id, region, purpose, outcome)
        return self.append_many(session, actor, [entry])

    def append_many(self, session: Session, actor: Actor, entries: Sequence[AuditEntry]) -> int:
        """Append events in order inside the caller's transaction; return the last seq."""
        with span(AUDIT):
            return self._append_many(session, actor, entries)

    def _append_many(self, session: Session, actor: Actor, entries: Sequence[AuditEntry]) -> int:
        head = session.execute(
            select(HEAD.c.seq, HEAD.c.hash).where(HEAD.c.id == _HEAD_ID).with_for_update()
        ).first()
        if head is None:
            session.execute(insert(HEAD).values(id=_HEAD_ID, seq=0, hash=GENESIS))
            seq, prev = 0, GENESIS
        else:
            seq, prev = head.seq, head.hash
        ts = self._clock()
        rows = []
        for entry in entries:
            seq += 1
            event = {
                "ts": ts,
                "actor": actor.name[:200],
                "role": actor.role_label[:100],
                "action": entry.action,
                "target": entry.target,
                "subject_id": entry.subject_id,
                "region": entry.region,
                "purpose": entry.purpose[:200],
                "outcome": entry.outcome[:64],
                "request_id": REQUEST_ID.get()[:128],
            }
            digest = self._link(prev, seq, event)
            rows.append({**event, "seq": seq, "prev_hash": prev, "hash": digest})
            prev = digest
        if rows:
            session.execute(insert(EVENTS), rows)
            session.execute(update(HEAD).where(HEAD.c.id == _HEAD_ID).values(seq=seq, hash=prev))
        return seq

    def record(self, **event: object) -> int:
        """Append one event in a transaction of its own (refusals, reads)."""
        with session_scope(self._engine) as session:
            return self.append(session, **event)  # type: ignore[arg-type]

    def verify(self, anchor: Anchor | None = None, page: int = 5000) -> AuditVerification:
        """Recompute the chain from the first event; report the first broken link.

        With an ``anchor`` (the newest signed checkpoint), the chain must also
        reach the anchor's seq with the anchor's hash there: a cut tail, a
        rewound head or a replaced chain fails even when its links are whole.
        """
        walk = self._walk(anchor.seq if anchor else None, page)
        verdict = walk.verdict
        if anchor is None or not verdict.ok:
            return _with_anchor(verdict, anchor, walk.events)
        if walk.events < anchor.seq:
            missing = anchor.seq - walk.events
            reason = f"chain ends at event {walk.events}; {missing} checkpointed events are gone"
            return _with_anchor(
                AuditVerification(False, walk.events, walk.events + 1, reason), anchor, walk.events
            )
        if anchor.seq < walk.start_seq:
            # the checkpoint predates months detached since (their events left the table
            # after being verified in place); the links from the boundary on were checked
            return _with_anchor(verdict, anchor, walk.events)
        if not hmac.compare_digest(walk.hash_at_anchor, anchor.head_hash):
            reason = f"event {anchor.seq} differs from the signed checkpoint (chain replaced)"
            return _with_anchor(
                AuditVerification(False, walk.events, anchor.seq, reason), anchor, walk.events
            )
        return _with_anchor(verdict, anchor, walk.events)

    def _walk(self, anchor_seq: int | None, page: int) -> _Walk:
        with Session(self._engine) as session:
            # Months detached from the table (PostgreSQL partitions, vault/audit/partitions.py)
            # left the chain at a recorded link: verification starts after it.
            boundary = session.exec(
                select(AuditDetachedRow).order_by(col(AuditDetachedRow.last_seq).desc()).limit(1)
            ).first()
            start_seq, prev = (boundary.last_seq, boundary.last_hash) if boundary else (0, GENESIS)
            expected_seq, count, at_anchor = start_seq + 1, start_seq, ""
            if anchor_seq == start_seq:
                at_anchor = prev
            last_seq = start_seq
            while True:
                rows = session.exec(
                    select(AuditEventRow)
                    .where(col(AuditEventRow.seq) > last_seq)
                    .order_by(col(AuditEventRow.seq))
                    .limit(page)
                ).all()
                if not rows:
                    break
                for row in rows:
                    if row.seq != expected_seq:
                        broken = AuditVerification(False, count, expected_seq, "event missing")
                        return _Walk(broken, count, at_anchor, start_seq)
                    event = {name: getattr(row, name) for name in (*_FIELDS, "request_id")}
                    if row.prev_hash != prev or self._link(prev, row.seq, event) != row.hash:
                        broken = AuditVerification(False, count, row.seq, "hash mismatch")
                        return _Walk(broken, count, at_anchor, start_seq)
                    prev, expected_seq, count = row.hash, expected_seq + 1, count + 1
                    last_seq = row.seq
                    if row.seq == anchor_seq:
                        at_anchor = row.hash
                session.expunge_all()
            head = session.get(AuditHeadRow, _HEAD_ID)
        if head is not None and (head.seq != count or head.hash != prev):
            reason = "chain truncated after last event"
            return _Walk(
                AuditVerification(False, count, count + 1, reason), count, at_anchor, start_seq
            )
        return _Walk(AuditVerification(True, count), count, at_anchor, start_seq)

    def head_event(self, seq: int) -> AuditEvent | None:
        """The event at ``seq`` (None when there is none)."""
        return next(self.events(after_seq=seq - 1, page=1), None) if seq > 0 else None

    def events(
        self,
        *,
        actor: str | None = None,
        subject_id: str | None = None,
        action: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        after_seq: int = 0,
        regions: Sequence[str] | None = None,
        page: int = 1000,
    ) -> Iterator[AuditEvent]:
        """Events matching every given filter after ``after_seq``, in chain order, page by page.

        ``regions``: only events about those regions (events about no region, such as
        principal changes, are left out too).
        """
        last_seq = after_seq
        while True:
            # the table's columns, not ORM entities: pages are read without identity bookkeeping
            query = sa_select(EVENTS).where(col(AuditEventRow.seq) > last_seq)
            if actor is not None:
                query = query.where(col(AuditEventRow.actor) == actor)
            if subject_id is not None:
                query = query.where(col(AuditEventRow.subject_id) == subject_id)
            if action is not None:
                query = query.where(col(AuditEventRow.action) == action)
            if since is not None:
                query = query.where(col(AuditEventRow.ts) >= since)
            if until is not None:
                query = query.where(col(AuditEventRow.ts) < until)
            if regions is not None:
                query = query.where(col(AuditEventRow.region).in_(regions))
            with self._engine.connect() as conn:
                rows = conn.execute(query.order_by(col(AuditEventRow.seq)).limit(page)).all()
            if not rows:
                return
            for row in rows:
                yield AuditEvent(
                    seq=row.seq,
                    ts=row.ts,
                    actor=row.actor,
                    role=row.role,
                    action=row.action,
                    target=row.target,
                    subject_id=row.subject_id or None,
                    region=row.region or None,
                    purpose=row.purpose,
                    outcome=row.outcome,
                    prev_hash=row.prev_hash,
                    hash=row.hash,
                    request_id=row.request_id,
                )
            last_seq = rows[-1].seq
