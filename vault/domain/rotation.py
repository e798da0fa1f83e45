"""Key rotation values: the states of a persisted rotation job, and why it was started."""

from __future__ import annotations

import enum


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
