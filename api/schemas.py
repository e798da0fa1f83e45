"""Request and response models of the HTTP API (they make the OpenAPI document precise).

Responses are the domain's value objects themselves (``vault.domain``): FastAPI
builds their schema from the dataclasses, so there is no mirror to keep in step.
Identifiers in paths are 32 hex digits; free text refuses NUL and control
characters at the edge, so nothing odd reaches the database.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from vault.domain import HoldScope

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


class ApprovalRequest(_In):
    """Review mode: approve disposable items of the current plan (compliance)."""

    ids: list[Id] | None = Field(
        default=None,
        max_length=10000,
        description="record or subject ids from the plan; omitted: every disposable item",
    )


class ApprovalResult(BaseModel):
    approved: int = Field(description="items approved now (the next sweep disposes of them)")
    review: bool = Field(description="whether review mode is on (off: sweeps need no approval)")


class TransferRequest(_In):
    to_region: RegionName
    legal_basis: Paragraph
    evidence_ref: Line


# -- responses: the domain's value objects (vault.domain), plus these wrappers --


#: rotation, key status, residency and transfer results, as ``vault.domain.to_json`` makes them
Report = dict[str, Any]


class Readiness(BaseModel):
    status: str = Field(description="ok, or unavailable when any check fails")
    checks: dict[str, str] = Field(description="component -> ok or an error code")
    audit_checkpoint: str | None = Field(
        default=None,
        description=(
            "what the last signed audit checkpoint attempt found: pending, ok, idle, "
            "chain-broken (tampering: nothing signed), unavailable or error; "
            "null when this process signs none. Does not change status."
        ),
    )
