"""Value objects and enums of the recvault domain (what callers get back)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


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


@dataclass(frozen=True)
class AuditVerification:
    ok: bool
    events: int
    first_broken_seq: int | None = None
    reason: str | None = None


@dataclass(frozen=True)
class GcResult:
    pending_versions_removed: int
    orphan_objects_removed: int
    temp_files_removed: int


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

    @property
    def active(self) -> bool:
        return self.released_at is None


@dataclass(frozen=True)
class Reason:
    """Why something is kept: ``kind`` retention / legal_hold / restriction."""

    kind: str
    detail: str
    until: datetime | None = None
    case_ref: str | None = None
    hold_id: str | None = None
    record_id: str | None = None


@dataclass(frozen=True)
class ErasureDecision:
    request_id: str
    subject_id: str
    status: str  # scheduled | deferred | executed | cancelled
    earliest: datetime | None
    reasons: tuple[Reason, ...] = ()
    destruction_id: str | None = None


@dataclass(frozen=True)
class DisposalItem:
    kind: str  # record | subject
    id: str
    subject_id: str
    disposable: bool
    action: str  # erase-record | schedule-destruction | destroy | keep
    reasons: tuple[Reason, ...] = ()
    approved: bool = False


@dataclass(frozen=True)
class DisposalPlan:
    as_of: datetime
    review: bool
    items: tuple[DisposalItem, ...]

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
    state: str  # scheduled | cancelled | executing | done | blocked
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

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "subject_id": self.subject_id,
            "from_region": self.from_region,
            "to_region": self.to_region,
            "legal_basis": self.legal_basis.value,
            "evidence_ref": self.evidence_ref,
            "state": self.state.value,
            "versions": self.versions,
            "copied_now": self.copied_now,
            "resumed": self.resumed,
            "hold_override": self.hold_override,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
        }
