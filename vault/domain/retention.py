"""Retention values: legal holds, why something is kept, the disposal plan, a sweep's counts."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime


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
