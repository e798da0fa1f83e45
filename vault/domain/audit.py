"""Audit values: a chain event, its verification, a monthly partition, a signed checkpoint."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class AuditEvent:
    seq: int
    ts: datetime
    actor: str
    role: str
    action: str
    target: str
    #: the subject the event is about; None for an event about no subject (a sign-in,
    #: a list). The chain itself stores '' (``vault/audit/chain.py``); an id here can
    #: always be followed, so a client never builds a path from an empty one
    subject_id: str | None
    #: the region the event is about; None for an event about no region
    region: str | None
    purpose: str
    outcome: str
    prev_hash: str
    hash: str
    #: X-Request-ID of the HTTP request behind the event ('' outside a request)
    request_id: str = ""


@dataclass(frozen=True)
class AuditVerification:
    ok: bool
    events: int
    first_broken_seq: int | None = None
    reason: str | None = None
    #: the newest valid signed checkpoint the chain was compared with (None: none found)
    checkpoint_seq: int | None = None
    #: events appended after that checkpoint, not yet covered by a signature
    events_after_checkpoint: int | None = None
    #: found (compared with it), none (no checkpoint yet) or unavailable (no store answered)
    checkpoint_status: str = "none"


@dataclass(frozen=True)
class AuditPartition:
    """A month of audit events on PostgreSQL (``recvault audit partitions``).

    ``start``/``end`` bound the month (None for the default partition, which takes
    events no month partition covers); a detached one is no longer part of the
    chain's table and is kept for its own retention.
    """

    name: str
    start: datetime | None
    end: datetime | None
    attached: bool
    events: int
    total_bytes: int
    first_seq: int | None = None
    last_seq: int | None = None
    detached_at: datetime | None = None


@dataclass(frozen=True)
class AuditCheckpoint:
    """A signed checkpoint of the audit chain, as written to each region's store."""

    seq: int
    head_hash: str
    #: time of the event at ``seq`` (so concurrent writers sign identical documents)
    head_ts: datetime
    #: SHA-256 of the canonical signed envelope; the next checkpoint links to it
    hash: str
    prev_seq: int | None
    prev_hash: str | None
    key: str
    #: regions whose store holds it
    regions: tuple[str, ...] = ()
