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

from api import examples
from vault.domain import HoldScope, LegalBasis

ID_PATTERN = r"^[0-9a-f]{32}$"
IdPath = Annotated[
    str,
    Path(
        pattern=ID_PATTERN,
        description="an internal id (32 hex digits)",
        examples=[examples.SUBJECT_ID],
    ),
]
#: the OpenAPI document lists the configured regions as its values (api.openapi.REGION_MARK)
RegionName = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Z0-9]{1,8}$"),
    Field(json_schema_extra={"x-recvault-region": True}),
]
Id = Annotated[str, StringConstraints(pattern=ID_PATTERN)]

#: what Python's ``str.strip`` removes: the vault refuses text made only of these
_BLANK = r"\t\n\x0b\x0c\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"


def _text(refused: str) -> str:
    """No character of ``refused``, and at least one that is not blank."""
    return f"^[^{refused}]*[^{refused}{_BLANK}][^{refused}]*$"


#: one line of text: no control characters, not blank
Line = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=_text(r"\x00-\x1f"))]
#: a paragraph: tabs and newlines allowed, no other control characters, not blank
Paragraph = Annotated[
    str,
    StringConstraints(min_length=1, max_length=2000, pattern=_text(r"\x00-\x08\x0b\x0c\x0e-\x1f")),
]
#: where a transfer's legal basis is documented (it shares the audit event's purpose field)
EvidenceRef = Annotated[
    str, StringConstraints(min_length=1, max_length=160, pattern=_text(r"\x00-\x1f"))
]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- requests -------------------------------------------------------------------


class SubjectCreate(_In):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"external_ref": "CLINIC-42", "region": "JP"}]},
    )

    external_ref: Annotated[
        str, StringConstraints(min_length=1, max_length=512, pattern=_text(r"\x00"))
    ] = Field(description="the clinic's patient reference; stored only as an HMAC")
    region: RegionName


class HoldCreate(_In):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [examples.HOLD_CREATE]}
    )

    scope: HoldScope
    target_id: Id
    case_ref: Line
    reason: Paragraph


class HoldRelease(_In):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"reason": "case closed"}]}
    )

    reason: Paragraph


class RotateRequest(_In):
    """One subject's key, one region's keys, or (both omitted) every live subject key."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [examples.ROTATE_REQUEST]}
    )

    region: RegionName | None = None
    subject_id: Id | None = None


class ApprovalRequest(_In):
    """Review mode: approve disposable items of the current plan (compliance)."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [examples.APPROVAL_REQUEST]}
    )

    ids: list[Id] | None = Field(
        default=None,
        max_length=1000,
        description="record or subject ids from the plan; omitted: every disposable item",
    )


class ApprovalResult(BaseModel):
    approved: int = Field(description="items approved now (the next sweep disposes of them)")
    review: bool = Field(description="whether review mode is on (off: sweeps need no approval)")


class TransferRequest(_In):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [examples.TRANSFER_REQUEST]}
    )

    to_region: RegionName
    legal_basis: LegalBasis
    evidence_ref: EvidenceRef


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
