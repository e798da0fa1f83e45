"""Value objects and enums of the recvault domain (what callers get back), by concept.

They are also the HTTP API's response types (FastAPI builds the OpenAPI
schema from these dataclasses) and the CLI's ``--json`` output: ``to_json``
is the one way a result becomes JSON.

Import them from here (``from vault.domain import Actor``). The modules hold
one concept each: who acts (``actors``), subjects, records and versions and
what gc kept (``records``), holds, disposal and sweeps (``retention``),
erasure requests, key destructions and remnants (``erasure``), rotation jobs
(``rotation``), transfers between regions (``residency``), the audit chain
(``audit``) and the conversion to JSON (``encoding``). They import nothing of
recvault but one another.
"""

from vault.domain.actors import SYSTEM, Actor, Role, as_actor
from vault.domain.audit import AuditCheckpoint, AuditEvent, AuditPartition, AuditVerification
from vault.domain.encoding import to_json
from vault.domain.erasure import (
    OPEN_DESTRUCTION,
    OPEN_ERASURE,
    Destruction,
    DestructionState,
    ErasureDecision,
    ErasureStatus,
    Remnant,
    RemnantReason,
    RemnantState,
)
from vault.domain.records import (
    Category,
    GcResult,
    KeptObject,
    KeptReason,
    RecordInfo,
    RecordState,
    Subject,
    SubjectState,
    VersionInfo,
    VersionState,
)
from vault.domain.residency import LegalBasis, TransferItemState, TransferResult, TransferState
from vault.domain.retention import (
    TRANSFER_REASON,
    DisposalAction,
    DisposalItem,
    DisposalKind,
    DisposalPlan,
    Hold,
    HoldScope,
    Reason,
    SweepResult,
)
from vault.domain.rotation import OPEN_ROTATION, RotationReason, RotationState

__all__ = [
    "OPEN_DESTRUCTION",
    "OPEN_ERASURE",
    "OPEN_ROTATION",
    "SYSTEM",
    "TRANSFER_REASON",
    "Actor",
    "AuditCheckpoint",
    "AuditEvent",
    "AuditPartition",
    "AuditVerification",
    "Category",
    "Destruction",
    "DestructionState",
    "DisposalAction",
    "DisposalItem",
    "DisposalKind",
    "DisposalPlan",
    "ErasureDecision",
    "ErasureStatus",
    "GcResult",
    "Hold",
    "HoldScope",
    "KeptObject",
    "KeptReason",
    "LegalBasis",
    "Reason",
    "RecordInfo",
    "RecordState",
    "Remnant",
    "RemnantReason",
    "RemnantState",
    "Role",
    "RotationReason",
    "RotationState",
    "Subject",
    "SubjectState",
    "SweepResult",
    "TransferItemState",
    "TransferResult",
    "TransferState",
    "VersionInfo",
    "VersionState",
    "as_actor",
    "to_json",
]
