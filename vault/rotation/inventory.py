"""The key inventory (which subject keys exist, how old, what they protect) and scheduled rotation.

Everything here comes from the metadata DB in a few aggregate queries, never
from one key-service call per key, so it stays cheap for a million subjects.

A key version's age is counted from the DB's record of it: version 1 from the
subject's ``created_at`` (the key is made with the subject), a later version
from the ``finished_at`` of the rotation job that put it in service. Transit's
own creation times are wall-clock time of the key server; the DB's are the
vault's clock, which tests inject. A key is *due* when ``rotation.max_age``
has passed since its current version came into service.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar

from sqlalchemy import type_coerce
from sqlmodel import Session, col, func, select

from vault.context import VaultContext
from vault.domain import (
    OPEN_DESTRUCTION,
    OPEN_ROTATION,
    Actor,
    RotationReason,
    RotationState,
    SubjectState,
)
from vault.durations import Duration
from vault.metadata import (
    KeyDestructionRow,
    KeyRotationRow,
    RecordVersionRow,
    SubjectRow,
    UTCDateTime,
    session_scope,
)
from vault.rotation.report import RotationReport
from vault.rotation.rotate import KeyRotation

#: at most this many due keys are listed per region (all are counted)
DUE_LISTED = 1000


@dataclass(frozen=True)
class DueKey:
    subject_id: str
    key_name: str
    region: str
    #: when the key's current version came into service
    since: datetime


@dataclass(frozen=True)
class PendingDestruction:
    destruction_id: str
    subject_id: str
    state: str
    scheduled_at: datetime
    not_before: datetime


@dataclass(frozen=True)
class RotationJob:
    job_id: str
    subject_id: str
    state: str
    reason: str
    target_version: int
    rewrapped: int
    claimed: bool
    started_at: datetime
    finished_at: datetime | None = None


@dataclass(frozen=True)
class RegionKeyStatus:
    region: str
    subject_keys: int = 0
    keys_destroyed: int = 0
    #: DEKs per key version, over every live key of the region
    versions_in_use: dict[int, int] = field(default_factory=dict)
    deks: int = 0
    #: DEKs still below their subject's current minimum version (a rotation under way)
    deks_awaiting_rewrap: int = 0
    oldest_version_in_use_since: datetime | None = None
    oldest_version_in_use_age_days: float | None = None
    keys_past_max_age: int = 0
    due: tuple[DueKey, ...] = ()
    pending_destruction: tuple[PendingDestruction, ...] = ()
    open_rotations: tuple[RotationJob, ...] = ()
    failed_rotations: tuple[RotationJob, ...] = ()


@dataclass(frozen=True)
class KeyStatus:
    as_of: datetime
    max_age: str
    keep_versions: int
    regions: dict[str, RegionKeyStatus]

    json_properties: ClassVar[tuple[str, ...]] = ("keys_half_rotated",)

    @property
    def keys_half_rotated(self) -> int:
        return sum(len(r.open_rotations) for r in self.regions.values())


# -- key ages ---------------------------------------------------------------------


def _since_query(subject_id: str | None = None) -> Any:
    last = (
        select(
            col(KeyRotationRow.key_name).label("key_name"),
            func.max(KeyRotationRow.finished_at).label("finished"),
        )
        .where(KeyRotationRow.state == RotationState.DONE)
        .group_by(col(KeyRotationRow.key_name))
        .subquery()
    )
    since = type_coerce(func.coalesce(last.c.finished, col(SubjectRow.created_at)), UTCDateTime())
    query = (
        select(SubjectRow.id, SubjectRow.key_name, SubjectRow.region, since.label("since"))
        .outerjoin(last, last.c.key_name == col(SubjectRow.key_name))
        .where(SubjectRow.state == SubjectState.ACTIVE)
    )
    if subject_id is not None:
        query = query.where(SubjectRow.id == subject_id)
    return query, since


def _shortest(duration: Duration) -> timedelta:
    """A lower bound of the duration on any calendar date (365-day years, 28-day months)."""
    return timedelta(
        days=duration.years * 365 + duration.months * 28 + duration.days, seconds=duration.seconds
    )


def due_keys(session: Session, now: datetime, max_age: Duration) -> list[DueKey]:
    """Live subject keys whose current version has been in service for ``max_age`` or more."""
    query, since = _since_query()
    # A loose bound in SQL, the exact calendar rule in Python.
    rows = session.exec(query.where(since <= now - _shortest(max_age))).all()
    return [
        DueKey(subject_id, key_name, region, at)
        for subject_id, key_name, region, at in rows
        if max_age.after(at) <= now
    ]


def is_due(session: Session, subject: SubjectRow, now: datetime, max_age: Duration) -> bool:
    query, _ = _since_query(subject.id)
    row = session.exec(query).first()
    return row is not None and max_age.after(row[3]) <= now


def rotate_due_keys(ctx: VaultContext, rotation: KeyRotation, actor: Actor) -> RotationReport:
    """Scheduled rotation in the caller's regions: enqueue due keys (re-checked under lock), run.

    Open jobs left by earlier runs (a reseal or rotation stopped by an outage) are
    resumed here too, so each sweep finishes what the last one could not.
    """
    now, max_age = ctx.clock(), ctx.settings.rotation.max_age
    granted = ctx.granted(actor)
    with session_scope(ctx.engine) as session:
        due = [d.subject_id for d in due_keys(session, now, max_age) if d.region in granted]
    rotation.enqueue(
        due, RotationReason.SCHEDULED, lambda s, subject: is_due(s, subject, now, max_age)
    )
    return rotation.drain(actor, regions=granted)


# -- the inventory ------------------------------------------------------------------


def key_status(ctx: VaultContext, actor: Actor) -> KeyStatus:
    """The inventory of the regions ``actor`` is granted (audited as ``key.status``)."""
    now = ctx.clock()
    rotation = ctx.settings.rotation
    granted = ctx.granted(actor)
    parts: _Parts = {name: {"region": name} for name in granted}
    with session_scope(ctx.engine) as session:
        _count_keys(session, parts)
        _count_deks(session, parts)
        _note_oldest(session, parts, now)
        _note_due(session, parts, now, rotation.max_age)
        _note_destructions(session, parts)
        _note_rotation_jobs(session, parts)
        ctx.audit.append(session, actor=actor, action="key.status")
    # Every tally is per region: dropping the ungranted ones leaves the granted exact.
    regions = {
        name: RegionKeyStatus(
            **{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}  # type: ignore[arg-type]
        )
        for name, values in sorted(parts.items())
        if name in granted
    }
    return KeyStatus(now, str(rotation.max_age), rotation.keep_versions, regions)


#: per region, the fields of its ``RegionKeyStatus`` as they are counted
_Parts = dict[str, dict[str, Any]]


def _part(parts: _Parts, region: str) -> dict[str, Any]:
    return parts.setdefault(region, {"region": region})


def _count_keys(session: Session, parts: _Parts) -> None:
    for region, state, count in session.exec(
        select(SubjectRow.region, SubjectRow.state, func.count()).group_by(
            col(SubjectRow.region), col(SubjectRow.state)
        )
    ).all():
        part = _part(parts, region)
        if state in (SubjectState.ACTIVE, SubjectState.DESTROYING):
            part["subject_keys"] = part.get("subject_keys", 0) + count
        elif state == SubjectState.DESTROYED:
            part["keys_destroyed"] = count


def _count_deks(session: Session, parts: _Parts) -> None:
    """DEKs per key version, and those still below their subject's minimum version."""
    live = col(RecordVersionRow.wrapped_dek).is_not(None)
    on_key = col(SubjectRow.key_name) == col(RecordVersionRow.key_name)
    for region, version, count in session.exec(
        select(SubjectRow.region, RecordVersionRow.key_version, func.count())
        .select_from(RecordVersionRow)
        .join(SubjectRow, on_key)
        .where(live)
        .group_by(col(SubjectRow.region), col(RecordVersionRow.key_version))
    ).all():
        part = _part(parts, region)
        part.setdefault("versions_in_use", {})[int(version)] = count
        part["deks"] = part.get("deks", 0) + count
    for region, count in session.exec(
        select(SubjectRow.region, func.count())
        .select_from(RecordVersionRow)
        .join(SubjectRow, on_key)
        .where(live)
        .where(col(RecordVersionRow.key_version) < col(SubjectRow.min_key_version))
        .group_by(col(SubjectRow.region))
    ).all():
        _part(parts, region)["deks_awaiting_rewrap"] = count


def _note_oldest(session: Session, parts: _Parts, now: datetime) -> None:
    for region, since in _oldest_in_use(session):
        if since is not None:
            part = _part(parts, region)
            part["oldest_version_in_use_since"] = since
            part["oldest_version_in_use_age_days"] = round((now - since).total_seconds() / 86400, 3)


def _note_due(session: Session, parts: _Parts, now: datetime, max_age: Duration) -> None:
    for due in due_keys(session, now, max_age):
        part = _part(parts, due.region)
        part["keys_past_max_age"] = part.get("keys_past_max_age", 0) + 1
        if len(part.setdefault("due", [])) < DUE_LISTED:
            part["due"].append(due)


def _note_destructions(session: Session, parts: _Parts) -> None:
    for destruction in session.exec(
        select(KeyDestructionRow)
        .where(col(KeyDestructionRow.state).in_(OPEN_DESTRUCTION))
        .order_by(col(KeyDestructionRow.not_before))
    ).all():
        _part(parts, destruction.region).setdefault("pending_destruction", []).append(
            PendingDestruction(
                destruction.id,
                destruction.subject_id,
                destruction.state,
                destruction.scheduled_at,
                destruction.not_before,
            )
        )


def _note_rotation_jobs(session: Session, parts: _Parts) -> None:
    for row in session.exec(
        select(KeyRotationRow)
        .where(col(KeyRotationRow.state).in_([*OPEN_ROTATION, RotationState.FAILED]))
        .order_by(col(KeyRotationRow.started_at))
    ).all():
        bucket = "failed_rotations" if row.state == RotationState.FAILED else "open_rotations"
        _part(parts, row.region).setdefault(bucket, []).append(
            RotationJob(
                row.id,
                row.subject_id,
                row.state,
                row.reason,
                row.target_version,
                row.rewrapped,
                row.claimed_by is not None,
                row.started_at,
                row.finished_at,
            )
        )


def _oldest_in_use(session: Session) -> list[tuple[str, datetime | None]]:
    """Per region, since when the oldest key version still protecting a DEK is in service."""
    lowest = (
        select(
            col(RecordVersionRow.key_name).label("key_name"),
            func.min(RecordVersionRow.key_version).label("version"),
        )
        .where(col(RecordVersionRow.wrapped_dek).is_not(None))
        .group_by(col(RecordVersionRow.key_name))
        .subquery()
    )
    # A version without a finished rotation of its own (version 1, or one a job has not
    # finished) is counted from the subject's creation: the conservative answer.
    since = type_coerce(
        func.min(func.coalesce(KeyRotationRow.finished_at, col(SubjectRow.created_at))),
        UTCDateTime(),
    )
    rows = session.exec(
        select(SubjectRow.region, since)
        .join(lowest, lowest.c.key_name == col(SubjectRow.key_name))
        .outerjoin(
            KeyRotationRow,
            (col(KeyRotationRow.key_name) == lowest.c.key_name)
            & (col(KeyRotationRow.target_version) == lowest.c.version)
            & (col(KeyRotationRow.state) == RotationState.DONE),
        )
        .where(col(SubjectRow.state).in_([SubjectState.ACTIVE, SubjectState.DESTROYING]))
        .group_by(col(SubjectRow.region))
    ).all()
    return [(region, at) for region, at in rows]
