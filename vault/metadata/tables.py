"""The metadata DB's SQLModel tables (DESIGN section 6).

The DB is the source of truth for wrapped DEKs and for what exists. It holds
no direct identifier of a person: external references are stored as HMACs.
SQLite is the embedded default (WAL, one writer at a time via BEGIN
IMMEDIATE); PostgreSQL is the production engine. Schema changes go through
Alembic (``migrations/``); a test fails when models and migrations drift.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    LargeBinary,
    Text,
    text,
)
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every engine (SQLite stores naive text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused by the metadata DB")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _ts(nullable: bool = False, index: bool = False) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable, index=index))


class SubjectRow(SQLModel, table=True):
    __tablename__ = "subjects"
    __table_args__ = (
        Index(
            "uq_subjects_live_ref",
            "ref_hmac",
            unique=True,
            postgresql_where=text("state IN ('active', 'destroying')"),
            sqlite_where=text("state IN ('active', 'destroying')"),
        ),
    )

    id: str = Field(primary_key=True, max_length=32)
    #: the reference's lookup key within the subject's region (``VaultContext.ref_tag``);
    #: subjects created before references were scoped by region hold the base here
    ref_hmac: str = Field(max_length=64, index=True)
    #: HMAC of the reference without region (``VaultContext.ref_base``): re-tags on transfer
    ref_base: str | None = Field(default=None, max_length=64)
    region: str = Field(max_length=8, index=True)
    key_name: str = Field(max_length=80, index=True)
    state: str = Field(max_length=16, index=True)
    restricted: bool = False
    #: wrapped DEKs below this subject-key version are refused at commit (rewrapped)
    min_key_version: int = 0
    created_at: datetime = _ts()
    destroyed_at: datetime | None = _ts(nullable=True)


class RecordRow(SQLModel, table=True):
    __tablename__ = "records"
    __table_args__ = (
        # A subject's records page by page, oldest first (vault.records.reads).
        Index("ix_records_subject_page", "subject_id", "created_at", "id"),
    )

    id: str = Field(primary_key=True, max_length=32)
    subject_id: str = Field(foreign_key="subjects.id", max_length=32, index=True)
    category: str = Field(max_length=32)
    state: str = Field(max_length=16, index=True)
    current_version: int = 0
    created_at: datetime = _ts()
    last_processed_at: datetime = _ts()
    retain_until: datetime = _ts(index=True)
    erased_at: datetime | None = _ts(nullable=True)


class RecordVersionRow(SQLModel, table=True):
    __tablename__ = "record_versions"
    __table_args__ = (
        # Rotation pages through a key's DEKs below its target version (vault.rotation.rotate).
        Index("ix_record_versions_key_name_key_version", "key_name", "key_version"),
    )

    record_id: str = Field(foreign_key="records.id", primary_key=True, max_length=32)
    version: int = Field(primary_key=True)
    state: str = Field(max_length=16, index=True)
    object_key: str = Field(max_length=128, unique=True)
    size: int = Field(sa_column=Column(BigInteger, nullable=False))
    header: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    wrapped_dek: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    key_name: str = Field(max_length=80, index=True)
    key_version: int = Field(index=True)
    content_type: str = Field(max_length=255)
    etag: str = Field(max_length=64)
    created_at: datetime = _ts(index=True)
    committed_at: datetime | None = _ts(nullable=True)
    lock_until: datetime | None = _ts(nullable=True)


class LegalHoldRow(SQLModel, table=True):
    __tablename__ = "legal_holds"
    __table_args__ = (Index("ix_legal_holds_page", "placed_at", "id"),)

    id: str = Field(primary_key=True, max_length=32)
    scope: str = Field(max_length=16)
    target_id: str = Field(max_length=32, index=True)
    subject_id: str = Field(max_length=32, index=True)
    case_ref: str = Field(max_length=200)
    reason: str = Field(sa_column=Column(Text, nullable=False))
    placed_by: str = Field(max_length=200)
    placed_at: datetime = _ts()
    released_by: str | None = Field(default=None, max_length=200)
    released_at: datetime | None = _ts(nullable=True)
    release_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class ErasureRequestRow(SQLModel, table=True):
    __tablename__ = "erasure_requests"

    id: str = Field(primary_key=True, max_length=32)
    subject_id: str = Field(max_length=32, index=True)
    requested_by: str = Field(max_length=200)
    requested_at: datetime = _ts()
    status: str = Field(max_length=16, index=True)
    earliest_at: datetime | None = _ts(nullable=True)
    reasons: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    executed_at: datetime | None = _ts(nullable=True)


class KeyDestructionRow(SQLModel, table=True):
    __tablename__ = "key_destructions"
    __table_args__ = (Index("ix_key_destructions_page", "scheduled_at", "id"),)

    id: str = Field(primary_key=True, max_length=32)
    subject_id: str = Field(max_length=32, index=True)
    key_name: str = Field(max_length=80)
    region: str = Field(max_length=8)
    state: str = Field(max_length=16, index=True)
    reason: str = Field(max_length=64)
    scheduled_at: datetime = _ts()
    not_before: datetime = _ts(index=True)
    cancelled_by: str | None = Field(default=None, max_length=200)
    cancelled_at: datetime | None = _ts(nullable=True)
    claimed_by: str | None = Field(default=None, max_length=64)
    claimed_at: datetime | None = _ts(nullable=True)
    #: when the subject key was destroyed: a worker taking the destruction over
    #: after a crash does not destroy it again (ADR 0014)
    key_destroyed_at: datetime | None = _ts(nullable=True)
    executed_at: datetime | None = _ts(nullable=True)
    certificate: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class DisposalApprovalRow(SQLModel, table=True):
    """Review mode: compliance approved disposing of one record or subject."""

    __tablename__ = "disposal_approvals"

    id: str = Field(primary_key=True, max_length=32)
    kind: str = Field(max_length=16)
    target_id: str = Field(max_length=32, index=True)
    approved_by: str = Field(max_length=200)
    approved_at: datetime = _ts()
    used_at: datetime | None = _ts(nullable=True)


class KeyRotationRow(SQLModel, table=True):
    """Progress of one subject key's rotation: resumable after a crash or an outage."""

    __tablename__ = "key_rotations"

    id: str = Field(primary_key=True, max_length=32)
    subject_id: str = Field(max_length=32, index=True)
    key_name: str = Field(max_length=80, index=True)
    region: str = Field(max_length=8)
    reason: str = Field(max_length=64)
    state: str = Field(max_length=16, index=True)
    target_version: int = 0
    rewrapped: int = 0
    claimed_by: str | None = Field(default=None, max_length=64)
    claimed_at: datetime | None = _ts(nullable=True)
    started_at: datetime = _ts()
    finished_at: datetime | None = _ts(nullable=True)


class TransferRow(SQLModel, table=True):
    """A subject's audited move between regions, with its legal basis."""

    __tablename__ = "subject_transfers"

    id: str = Field(primary_key=True, max_length=32)
    subject_id: str = Field(max_length=32, index=True)
    from_region: str = Field(max_length=8)
    to_region: str = Field(max_length=8)
    legal_basis: str = Field(max_length=64)
    evidence_ref: str = Field(max_length=200)
    new_key_name: str = Field(max_length=80)
    #: the subject key before the move: destroyed in ``cleaning``, absent everywhere after
    old_key_name: str = Field(default="", max_length=80, index=True)
    #: an admin moved the subject while a legal hold covered it
    override_hold: bool = False
    state: str = Field(max_length=16, index=True)
    requested_by: str = Field(max_length=200)
    started_at: datetime = _ts()
    finished_at: datetime | None = _ts(nullable=True)
    #: the process running the transfer now, and when it last reported (ADR 0014):
    #: one runner at a time; a vanished runner's transfer is taken over after a lease
    claimed_by: str | None = Field(default=None, max_length=64)
    claimed_at: datetime | None = _ts(nullable=True)


class TransferItemRow(SQLModel, table=True):
    """One record version of a transfer: its copy in the target region, made once.

    ``state`` is ``copying`` (the target object may be partial or absent),
    ``copied`` (written, read back and its plaintext digest compared) or
    ``dropped`` (the version was erased while the transfer ran; its copy is
    deleted in ``cleaning``). The sealed header and wrapped DEK of the copy
    wait here until the switch puts them on the version row.
    """

    __tablename__ = "subject_transfer_items"

    transfer_id: str = Field(foreign_key="subject_transfers.id", primary_key=True, max_length=32)
    record_id: str = Field(primary_key=True, max_length=32)
    version: int = Field(primary_key=True)
    state: str = Field(max_length=16)
    old_object_key: str = Field(max_length=128, index=True)
    new_object_key: str = Field(max_length=128, unique=True)
    size: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    header: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    wrapped_dek: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    key_version: int = 0
    etag: str = Field(default="", max_length=64)
    #: SHA-256 of the plaintext, read from the source and again from the copy
    digest: str = Field(default="", max_length=64)
    copied_at: datetime | None = _ts(nullable=True)


class ShreddedRemnantRow(SQLModel, table=True):
    """An object the store refused to delete (Object Lock) after its key was destroyed.

    ``state`` is ``shredded`` once the key that sealed it is verifiably gone (the
    whole key, or for a per-record erasure the trimmed versions up to
    ``key_version``), ``awaiting-shred`` before. The sweep deletes the object once
    ``retain_until`` has passed and removes the row. Names nothing but pseudonymous
    object keys, subject ids and ``subj-<hmac>`` key names.
    """

    __tablename__ = "shredded_remnants"

    id: str = Field(primary_key=True, max_length=32)
    object_key: str = Field(max_length=128, unique=True)
    region: str = Field(max_length=8, index=True)
    subject_id: str = Field(max_length=32, index=True)
    state: str = Field(max_length=16, index=True)
    reason: str = Field(max_length=16)
    #: the transfer, destruction or record whose deletion was refused
    source_id: str = Field(max_length=32)
    key_name: str = Field(max_length=80)
    key_version: int | None = None
    retain_until: datetime | None = _ts(nullable=True, index=True)
    recorded_at: datetime = _ts()
    shredded_at: datetime | None = _ts(nullable=True)


class AuditEventRow(SQLModel, table=True):
    __tablename__ = "audit_events"
    __table_args__ = (
        # Audit queries filter on one of these and page in chain order (keyset: seq);
        # each also serves plain equality lookups, so no single-column index is kept.
        Index("ix_audit_events_actor_seq", "actor", "seq"),
        Index("ix_audit_events_action_seq", "action", "seq"),
        Index("ix_audit_events_subject_seq", "subject_id", "seq"),
    )

    seq: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    ts: datetime = _ts(index=True)
    actor: str = Field(max_length=200)
    role: str = Field(max_length=100)
    action: str = Field(max_length=64)
    target: str = Field(max_length=200, index=True)
    subject_id: str = Field(default="", max_length=32)
    region: str = Field(max_length=8)
    purpose: str = Field(max_length=200)
    outcome: str = Field(max_length=64)
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)
    #: X-Request-ID of the HTTP request behind the event ('' outside a request)
    request_id: str = Field(
        default="",
        max_length=128,
        index=True,
        sa_column_kwargs={"server_default": ""},
    )


class AuditHeadRow(SQLModel, table=True):
    """One row: the chain's last sequence number and hash, locked by each appender."""

    __tablename__ = "audit_head"

    id: int = Field(primary_key=True)
    seq: int = Field(sa_column=Column(BigInteger, nullable=False))
    hash: str = Field(max_length=64)


class AuditDetachedRow(SQLModel, table=True):
    """A month of audit events detached from the chain's table (PostgreSQL partitions).

    The rows live on in the detached table ``partition`` for their own retention;
    verification starts after ``last_seq``, from ``last_hash`` (vault/audit/partitions.py).
    """

    __tablename__ = "audit_detached"

    partition: str = Field(primary_key=True, max_length=63)
    month: datetime = _ts()
    first_seq: int = Field(sa_column=Column(BigInteger, nullable=False))
    last_seq: int = Field(sa_column=Column(BigInteger, nullable=False, index=True))
    last_hash: str = Field(max_length=64)
    events: int = Field(sa_column=Column(BigInteger, nullable=False))
    detached_at: datetime = _ts()
    detached_by: str = Field(max_length=200)


class PrincipalRow(SQLModel, table=True):
    __tablename__ = "principals"

    id: str = Field(primary_key=True, max_length=32)
    name: str = Field(max_length=200, unique=True)
    roles: str = Field(max_length=200)
    regions: str = Field(max_length=200)
    token_hash: str = Field(max_length=64, unique=True)
    disabled: bool = False
    created_at: datetime = _ts()
