"""Subjects, records and versions: categories, states, what reads return, what gc kept."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime


class Category(enum.StrEnum):
    PHOTO = "photo"
    IMPRESSION = "impression"
    XRAY = "xray"
    CLINICAL_FINDING = "clinical_finding"
    CONTACT = "contact"
    FINANCIAL = "financial"
    USAGE = "usage"


class SubjectState(enum.StrEnum):
    ACTIVE = "active"
    DESTROYING = "destroying"
    DESTROYED = "destroyed"
    TRANSFERRED = "transferred"


class RecordState(enum.StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    ERASED = "erased"


class VersionState(enum.StrEnum):
    PENDING = "pending"
    COMMITTED = "committed"
    ERASED = "erased"


@dataclass(frozen=True)
class Subject:
    id: str
    region: str
    key_name: str
    state: SubjectState
    restricted: bool
    created_at: datetime


@dataclass(frozen=True)
class RecordInfo:
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
    versions: tuple[VersionInfo, ...] = field(default=())


@dataclass(frozen=True)
class VersionInfo:
    version: int
    size: int
    content_type: str
    created_at: datetime
    key_version: int
    etag: str


class KeptReason(enum.StrEnum):
    """Why ``gc`` kept an object that no version row references."""

    #: a complete sealed object (its header parses, its size is the one the header declares)
    UNKNOWN = "unknown"
    #: a recvault header, but not the size it declares: truncated or damaged
    SIZE_MISMATCH = "size-mismatch"
    #: no parsable recvault header
    UNPARSABLE = "unparsable"


@dataclass(frozen=True)
class KeptObject:
    """An object the metadata DB does not reference, kept by ``gc`` and reported.

    After a DB restore these are the records written since the dump: each stays
    readable with the key its header names (key name, version, wrapped DEK).
    ``record_known`` says whether the DB knows the header's record (a newer
    version of a known record) or not (a record created after the dump).
    """

    region: str
    object_key: str
    size: int
    reason: KeptReason
    record_id: str | None = None
    record_version: int | None = None
    key_name: str | None = None
    key_version: int | None = None
    record_known: bool = False
    detail: str = ""


@dataclass(frozen=True)
class GcResult:
    """What ``gc`` removed (incomplete writes) and kept (objects the DB does not know).

    With ``dry_run`` nothing was removed: the counts say what would have been.
    """

    pending_versions_removed: int
    temp_files_removed: int
    unknown_objects_kept: int = 0
    unreadable_objects_kept: int = 0
    kept: tuple[KeptObject, ...] = ()
    dry_run: bool = False
