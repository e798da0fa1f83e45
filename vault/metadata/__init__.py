"""The metadata DB: SQLModel tables, engine and sessions, and Alembic migrations.

Owns the schema (DESIGN section 6; ``tables``), how engines and sessions are
made (``sessions``) and ``recvault db upgrade`` (``migrate``, over the
``migrations/`` scripts shipped inside the wheel as ``vault/migrations``).
Imports only ``vault.errors``.
"""

from vault.metadata.sessions import make_engine, read_scope, session_scope
from vault.metadata.tables import (
    AuditDetachedRow,
    AuditEventRow,
    AuditHeadRow,
    DisposalApprovalRow,
    ErasureRequestRow,
    KeyDestructionRow,
    KeyRotationRow,
    LegalHoldRow,
    PrincipalRow,
    RecordRow,
    RecordVersionRow,
    ShreddedRemnantRow,
    SubjectRow,
    TransferItemRow,
    TransferRow,
    UTCDateTime,
)

__all__ = [
    "AuditDetachedRow",
    "AuditEventRow",
    "AuditHeadRow",
    "DisposalApprovalRow",
    "ErasureRequestRow",
    "KeyDestructionRow",
    "KeyRotationRow",
    "LegalHoldRow",
    "PrincipalRow",
    "RecordRow",
    "RecordVersionRow",
    "ShreddedRemnantRow",
    "SubjectRow",
    "TransferItemRow",
    "TransferRow",
    "UTCDateTime",
    "make_engine",
    "read_scope",
    "session_scope",
]
