"""Erasure values: requests and their decisions, subject-key destructions, shredded remnants."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from vault.domain.retention import Reason


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
