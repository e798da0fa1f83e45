"""Value objects and enums of the recvault domain (what callers get back).

They are also the HTTP API's response types (FastAPI builds the OpenAPI
schema from these dataclasses) and the CLI's ``--json`` output: ``to_json``
is the one way a result becomes JSON.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar


class Category(enum.StrEnum):
    PHOTO = "photo"
    IMPRESSION = "impression"
    XRAY = "xray"
    CLINICAL_FINDING = "clinical_finding"
    CONTACT = "contact"
    FINANCIAL = "financial"
    USAGE = "usage"


class Role(enum.StrEnum):
    SERVICE = "service"
    ADMIN = "admin"
    SECURITY = "security"
    COMPLIANCE = "compliance"
    DPO = "dpo"


class SubjectState(enum.StrEnum):
    ACTIVE = "active"
    DESTROYING = "destroying"
    DESTROYED = "destroyed"
    TRANSFERRED = "transferred"


class RecordState(enum.StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    ERASED = "erased"


class VersionState(enum.StrEnum):
    PENDING = "pending"
    COMMITTED = "committed"
    ERASED = "erased"


class ErasureStatus(enum.StrEnum):
    """An erasure request: deferred (something keeps the data), scheduled, executed.

    ``none``: no erasure was ever requested for the subject (only ever answered, never stored).
    """

    NONE = "none"
    DEFERRED = "deferred"
    SCHEDULED = "scheduled"
    EXECUTED = "executed"
    CANCELLED = "cancelled"


#: erasure requests still waiting to be carried out
OPEN_ERASURE = (ErasureStatus.DEFERRED, ErasureStatus.SCHEDULED)


class DestructionState(enum.StrEnum):
    """A subject key's destruction: waits (cancellable), executes once, ends done or blocked."""

    SCHEDULED = "scheduled"
    EXECUTING = "executing"
    DONE = "done"
    BLOCKED = "blocked"
    CANCELLED = "cancelled"


#: destructions not yet finished (a subject in one of them is on its way out)
OPEN_DESTRUCTION = (DestructionState.SCHEDULED, DestructionState.EXECUTING)


class RotationState(enum.StrEnum):
    """A persisted rotation job: pending -> rotating -> rewrapping -> done (or failed)."""

    PENDING = "pending"
    ROTATING = "rotating"
    REWRAPPING = "rewrapping"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


OPEN_ROTATION = (RotationState.PENDING, RotationState.ROTATING, RotationState.REWRAPPING)


class RotationReason(enum.StrEnum):
    MANUAL = "manual"
    SCHEDULED = "scheduled"
    #: the per-record crypto-shred: rotate, rewrap, trim every older version
    RESEAL = "reseal"


class DisposalKind(enum.StrEnum):
    SUBJECT = "subject"
    RECORD = "record"


class DisposalAction(enum.StrEnum):
    """What a sweep will do with a plan item."""

    KEEP = "keep"
    ERASE_RECORD = "erase-record"
    SCHEDULE_DESTRUCTION = "schedule-destruction"
    AWAIT_WAITING_PERIOD = "await-waiting-period"
    DESTROY = "destroy"


@dataclass(frozen=True)
class Actor:
    """Who acts: a name for the audit log, roles and granted regions.

    ``regions=None`` means every region (the embedded library default).
    """

    name: str = "system"
    roles: frozenset[Role] = frozenset({Role.SERVICE})
    regions: frozenset[str] | None = None

    def has(self, role: Role) -> bool:
        return role in self.roles

    def may_access_region(self, region: str) -> bool:
        return self.regions is None or region in self.regions

    @property
    def role_label(self) -> str:
        return ",".join(sorted(r.value for r in self.roles))


SYSTEM = Actor()


@dataclass(frozen=True)
class Subject:
    id: str
    region: str
    key_name: str
    state: SubjectState
    restricted: bool
    created_at: datetime


@dataclass(frozen=True)
class RecordInfo:
    id: str
    subject_id: str
    category: Category
    state: RecordState
    version: int
    size: int
    content_type: str
    created_at: datetime
    last_processed_at: datetime
    retain_until: datetime
    region: str
    versions: tuple[VersionInfo, ...] = field(default=())


@dataclass(frozen=True)
class VersionInfo:
    version: int
    size: int
    content_type: str
    created_at: datetime
    key_version: int
    etag: str


@dataclass(frozen=True)
class AuditEvent:
    seq: int
    ts: datetime
    actor: str
    role: str
    action: str
    target: str
    subject_id: str
    region: str
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


class KeptReason(enum.StrEnum):
    """Why ``gc`` kept an object that no version row references."""

    #: a complete sealed object (its header parses, its size is the one the header declares)
    UNKNOWN = "unknown"
    #: a recvault header, but not the size it declares: truncated or damaged
    SIZE_MISMATCH = "size-mismatch"
    #: no parsable recvault header
    UNPARSABLE = "unparsable"


@dataclass(frozen=True)
class KeptObject:
    """An object the metadata DB does not reference, kept by ``gc`` and reported.

    After a DB restore these are the records written since the dump: each stays
    readable with the key its header names (key name, version, wrapped DEK).
    ``record_known`` says whether the DB knows the header's record (a newer
    version of a known record) or not (a record created after the dump).
    """

    region: str
    object_key: str
    size: int
    reason: KeptReason
    record_id: str | None = None
    record_version: int | None = None
    key_name: str | None = None
    key_version: int | None = None
    record_known: bool = False
    detail: str = ""


@dataclass(frozen=True)
class GcResult:
    """What ``gc`` removed (incomplete writes) and kept (objects the DB does not know).

    With ``dry_run`` nothing was removed: the counts say what would have been.
    """

    pending_versions_removed: int
    temp_files_removed: int
    unknown_objects_kept: int = 0
    unreadable_objects_kept: int = 0
    kept: tuple[KeptObject, ...] = ()
    dry_run: bool = False


class HoldScope(enum.StrEnum):
    SUBJECT = "subject"
    RECORD = "record"


@dataclass(frozen=True)
class Hold:
    id: str
    scope: HoldScope
    target_id: str
    subject_id: str
    case_ref: str
    reason: str
    placed_by: str
    placed_at: datetime
    released_by: str | None = None
    released_at: datetime | None = None
    release_reason: str | None = None
    #: not yet released
    active: bool = True


#: ``Reason.kind`` of a subject kept because a transfer between regions is moving it
TRANSFER_REASON = "transfer"


@dataclass(frozen=True)
class Reason:
    """Why something is kept: ``kind`` retention / legal_hold / restriction / transfer."""

    kind: str
    detail: str
    until: datetime | None = None
    case_ref: str | None = None
    hold_id: str | None = None
    record_id: str | None = None


@dataclass(frozen=True)
class ErasureDecision:
    #: None when no erasure was requested (status ``none``)
    request_id: str | None
    subject_id: str
    status: ErasureStatus
    earliest: datetime | None
    reasons: tuple[Reason, ...] = ()
    destruction_id: str | None = None


@dataclass(frozen=True)
class DisposalItem:
    kind: DisposalKind
    id: str
    subject_id: str
    disposable: bool
    action: DisposalAction
    reasons: tuple[Reason, ...] = ()
    approved: bool = False


@dataclass(frozen=True)
class DisposalPlan:
    as_of: datetime
    review: bool
    items: tuple[DisposalItem, ...]
    #: a page of the plan: the cursor of the next page (None: the last page, or the whole plan)
    next: str | None = None

    @property
    def disposable(self) -> tuple[DisposalItem, ...]:
        return tuple(i for i in self.items if i.disposable)

    @property
    def kept(self) -> tuple[DisposalItem, ...]:
        return tuple(i for i in self.items if not i.disposable)


@dataclass(frozen=True)
class Destruction:
    id: str
    subject_id: str
    key_name: str
    region: str
    state: DestructionState
    reason: str
    scheduled_at: datetime
    not_before: datetime
    cancelled_by: str | None = None
    executed_at: datetime | None = None


@dataclass(frozen=True)
class SweepResult:
    records_erased: int = 0
    destructions_scheduled: int = 0
    destructions_executed: int = 0
    destructions_blocked: int = 0
    retention_locks_extended: int = 0
    keys_rotated: int = 0
    awaiting_approval: int = 0
    #: shredded remnants deleted once their Object Lock lapsed, and those still locked
    remnants_deleted: int = 0
    remnants_locked: int = 0
    #: subjects left alone because a transfer between regions is moving them (ADR 0014)
    subjects_in_transfer: int = 0


class LegalBasis(enum.StrEnum):
    """The routes Japan's APPI allows for a cross-border transfer of personal data."""

    #: the person consented to the transfer to that country
    CONSENT = "consent"
    #: the destination is recognised as having equivalent protection
    ADEQUACY = "adequacy"
    #: the recipient is bound by contract to equivalent safeguards
    CONTRACTUAL_SAFEGUARDS = "contractual_safeguards"


class TransferState(enum.StrEnum):
    COPYING = "copying"
    SWITCHING = "switching"
    CLEANING = "cleaning"
    DONE = "done"


class TransferItemState(enum.StrEnum):
    """One version of a transfer: copying (target partial or absent), copied, dropped."""

    COPYING = "copying"
    COPIED = "copied"
    DROPPED = "dropped"


@dataclass(frozen=True)
class TransferResult:
    id: str
    subject_id: str
    from_region: str
    to_region: str
    legal_basis: LegalBasis
    evidence_ref: str
    state: TransferState
    #: versions moved by the whole transfer, and copied by this call
    versions: int
    copied_now: int
    resumed: bool
    hold_override: bool
    started_at: datetime
    finished_at: datetime | None
    #: source objects the store refused to delete (Object Lock) after the old key was
    #: destroyed: kept as shredded remnants until their retain-until date
    remnants: int = 0


class RemnantReason(enum.StrEnum):
    """Why a shredded remnant was left: what tried to delete the object."""

    TRANSFER = "transfer"
    ERASURE = "erasure"
    RECORD_ERASURE = "record-erasure"


class RemnantState(enum.StrEnum):
    #: the store refused the delete and the key that sealed it is not yet proven
    #: destroyed (a per-record erasure before its reseal): still a violation
    AWAITING_SHRED = "awaiting-shred"
    #: the key is verifiably destroyed: unreadable bytes waiting for their lock to lapse
    SHREDDED = "shredded"


@dataclass(frozen=True)
class Remnant:
    """An object the store keeps under Object Lock although the key that sealed it is gone.

    Names only pseudonymous things: the object key and the destroyed key's name
    (``subj-<hmac>``), with the key version for a per-record erasure (versions up to
    it were trimmed).
    """

    object_key: str
    region: str
    #: the store's retain-until (None: only a legal hold kept it)
    retain_until: datetime | None
    destroyed_key: str
    #: the trimmed key version that sealed it (per-record erasure); None: the whole key
    key_version: int | None
    reason: RemnantReason
    recorded_at: datetime

    json_properties: ClassVar[tuple[str, ...]] = ("deletable_from",)

    @property
    def deletable_from(self) -> datetime | None:
        """When a sweep may delete it: its lock's end."""
        return self.retain_until


def to_json(value: Any) -> Any:
    """A result as JSON-ready data: dataclasses as objects, enums as values, times in ISO 8601.

    Fields whose name starts with ``_`` are internal and left out; a class may
    name read-only properties to include in ``json_properties``. Dict keys are
    sorted, so signed documents built from results are canonical.
    """
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = {
            f.name: to_json(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if not f.name.startswith("_")
        }
        for name in getattr(value, "json_properties", ()):
            out[name] = to_json(getattr(value, name))
        return out
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, list | tuple | frozenset | set):
        items = [to_json(v) for v in value]
        return sorted(items) if isinstance(value, frozenset | set) else items
    return value
