"""Transfers between regions: the legal basis, a transfer's and its items' states, the result."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime


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
