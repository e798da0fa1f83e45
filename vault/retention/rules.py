"""Pure disposal rules: may a record, or a whole subject, be disposed of at ``now``?

A record may be disposed when its retention has passed, no active legal hold
covers it or its subject, and its subject is not restricted (restriction is
what the policy offers to a person who does not want their data erased).
Every "no" carries every reason, so compliance and the DPO can say why.
Functions of data and ``now`` only: no clock, no DB.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from vault.durations import require_aware


class BlockKind(enum.StrEnum):
    RETENTION = "retention"
    LEGAL_HOLD = "legal_hold"
    RESTRICTION = "restriction"


@dataclass(frozen=True)
class Block:
    """One reason a record or subject must be kept."""

    kind: BlockKind
    until: datetime | None = None
    hold_id: str | None = None
    case_ref: str | None = None
    record_id: str | None = None

    def describe(self) -> str:
        if self.kind is BlockKind.RETENTION:
            assert self.until is not None
            return f"retained until {self.until:%Y-%m-%d}"  # the exact instant is ``until``
        if self.kind is BlockKind.LEGAL_HOLD:
            return f"legal hold {self.hold_id} (case {self.case_ref})"
        return "processing restricted at the subject's request"


@dataclass(frozen=True)
class HoldFacts:
    id: str
    scope: str  # "subject" | "record"
    target_id: str
    case_ref: str


@dataclass(frozen=True)
class RecordFacts:
    id: str
    retain_until: datetime


@dataclass(frozen=True)
class Decision:
    disposable: bool
    blocks: tuple[Block, ...] = field(default=())

    @property
    def earliest(self) -> datetime | None:
        """The earliest time retention alone would allow disposal (holds have no date)."""
        dates = [b.until for b in self.blocks if b.kind is BlockKind.RETENTION and b.until]
        return max(dates) if dates else None


def record_blocks(
    record: RecordFacts,
    holds: Iterable[HoldFacts],
    subject_id: str,
    restricted: bool,
    now: datetime,
) -> list[Block]:
    require_aware(now)
    blocks: list[Block] = []
    if record.retain_until > now:
        blocks.append(Block(BlockKind.RETENTION, until=record.retain_until, record_id=record.id))
    for hold in holds:
        covers = (hold.scope == "subject" and hold.target_id == subject_id) or (
            hold.scope == "record" and hold.target_id == record.id
        )
        if covers:
            blocks.append(
                Block(
                    BlockKind.LEGAL_HOLD,
                    hold_id=hold.id,
                    case_ref=hold.case_ref,
                    record_id=record.id,
                )
            )
    if restricted:
        blocks.append(Block(BlockKind.RESTRICTION, record_id=record.id))
    return blocks


def decide_record(
    record: RecordFacts,
    holds: Iterable[HoldFacts],
    subject_id: str,
    restricted: bool,
    now: datetime,
) -> Decision:
    blocks = record_blocks(record, holds, subject_id, restricted, now)
    return Decision(not blocks, tuple(blocks))


def decide_subject(
    subject_id: str,
    records: Sequence[RecordFacts],
    holds: Sequence[HoldFacts],
    restricted: bool,
    now: datetime,
) -> Decision:
    """A subject's key may be destroyed when every one of its records may be disposed."""
    require_aware(now)
    blocks: list[Block] = []
    seen_holds: set[str] = set()
    for record in records:
        for block in record_blocks(record, holds, subject_id, False, now):
            if block.kind is BlockKind.LEGAL_HOLD:
                if block.hold_id in seen_holds:
                    continue
                seen_holds.add(block.hold_id or "")
            blocks.append(block)
    for hold in holds:
        if hold.scope == "subject" and hold.target_id == subject_id and hold.id not in seen_holds:
            blocks.append(Block(BlockKind.LEGAL_HOLD, hold_id=hold.id, case_ref=hold.case_ref))
    if restricted:
        blocks.append(Block(BlockKind.RESTRICTION))
    return Decision(not blocks, tuple(blocks))
