"""Request and response models of the HTTP API (they make the OpenAPI document precise).

Responses are built from the domain's value objects (``from_attributes``).
Identifiers in paths are 32 hex digits; free text refuses NUL and control
characters at the edge, so nothing odd reaches the database.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import Path
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from vault.domain import Category, HoldScope, RecordState, SubjectState

ID_PATTERN = r"^[0-9a-f]{32}$"
IdPath = Annotated[str, Path(pattern=ID_PATTERN, description="an internal id (32 hex digits)")]
RegionName = Annotated[str, StringConstraints(pattern=r"^[A-Z0-9]{1,8}$")]
Id = Annotated[str, StringConstraints(pattern=ID_PATTERN)]
#: one line of text: no control characters
Line = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f]+$")]
#: a paragraph: tabs and newlines allowed, no other control characters
Paragraph = Annotated[
    str,
    StringConstraints(min_length=1, max_length=2000, pattern=r"^[^\x00-\x08\x0b\x0c\x0e-\x1f]+$"),
]


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- requests -------------------------------------------------------------------


class SubjectCreate(_In):
    external_ref: Annotated[
        str, StringConstraints(min_length=1, max_length=512, pattern=r"^[^\x00]+$")
    ] = Field(description="the clinic's patient reference; stored only as an HMAC")
    region: RegionName


class HoldCreate(_In):
    scope: HoldScope
    target_id: Id
    case_ref: Line
    reason: Paragraph


class HoldRelease(_In):
    reason: Paragraph


class RotateRequest(_In):
    region: RegionName | None = None
    subject_id: Id | None = None


class TransferRequest(_In):
    to_region: RegionName
    legal_basis: Paragraph
    evidence_ref: Line


# -- responses ------------------------------------------------------------------


class SubjectOut(_Out):
    id: str
    region: str
    key_name: str
    state: SubjectState
    restricted: bool
    created_at: datetime


class VersionOut(_Out):
    version: int
    size: int
    content_type: str
    created_at: datetime
    key_version: int
    etag: str


class RecordOut(_Out):
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
    versions: list[VersionOut] = Field(default_factory=list)


class HoldOut(_Out):
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
    active: bool


class ReasonOut(_Out):
    kind: str
    detail: str
    until: datetime | None = None
    case_ref: str | None = None
    hold_id: str | None = None
    record_id: str | None = None


class ErasureOut(_Out):
    request_id: str
    subject_id: str
    status: str
    earliest: datetime | None
    reasons: list[ReasonOut] = Field(default_factory=list)
    destruction_id: str | None = None


class DestructionOut(_Out):
    id: str
    subject_id: str
    key_name: str
    region: str
    state: str
    reason: str
    scheduled_at: datetime
    not_before: datetime
    cancelled_by: str | None = None
    executed_at: datetime | None = None


class DisposalItemOut(_Out):
    kind: str
    id: str
    subject_id: str
    disposable: bool
    action: str
    reasons: list[ReasonOut] = Field(default_factory=list)
    approved: bool = False


class DisposalPlanOut(_Out):
    as_of: datetime
    review: bool
    items: list[DisposalItemOut]


class SweepOut(_Out):
    records_erased: int
    destructions_scheduled: int
    destructions_executed: int
    destructions_blocked: int
    retention_locks_extended: int
    keys_rotated: int
    awaiting_approval: int


class AuditEventOut(_Out):
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


class AuditPage(BaseModel):
    events: list[AuditEventOut]
    next_after_seq: int | None = Field(
        description="pass as after_seq for the next page; null when this page is the last"
    )


class AuditVerificationOut(_Out):
    ok: bool
    events: int
    first_broken_seq: int | None = None
    reason: str | None = None


#: rotation, key status, residency and transfer results: each result's ``to_dict()``
Report = dict[str, Any]


class Readiness(BaseModel):
    status: str = Field(description="ok, or unavailable when any check fails")
    checks: dict[str, str] = Field(description="component -> ok or an error code")



