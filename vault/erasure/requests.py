"""Data subjects' rights: erasure requests, restriction, and export (DPO).

Erasure is accepted and either scheduled at once (nothing blocks it) or
deferred with the earliest date and every reason; deferred requests are
executed by the sweep once eligible. Restriction blocks service reads and
writes; the DPO can still export. Export streams a zip of every stored
version plus ``manifest.json``; it is not a processing event.
"""

from __future__ import annotations

import hashlib
import json
import uuid
import zipfile
from datetime import datetime
from typing import IO, Any

from sqlmodel import col, select

from vault.context import VaultContext, require_region
from vault.domain import (
    OPEN_ERASURE,
    Actor,
    ErasureDecision,
    ErasureStatus,
    Reason,
    RecordState,
    SubjectState,
    VersionState,
    to_json,
)
from vault.erasure.destruction import (
    open_destruction,
    open_request,
    reasons,
    subject_decision,
)
from vault.errors import NotFound
from vault.metadata import ErasureRequestRow, RecordRow, RecordVersionRow, session_scope
from vault.records.reads import Records
from vault.retention.disposal import Disposal

_EXT = {
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "application/pdf": ".pdf",
    "model/stl": ".stl",
    "application/dicom": ".dcm",
    "text/plain": ".txt",
    "application/json": ".json",
}


def _decision(row: ErasureRequestRow, destruction_id: str | None = None) -> ErasureDecision:
    stored = json.loads(row.reasons or "[]")
    return ErasureDecision(
        request_id=row.id,
        subject_id=row.subject_id,
        status=ErasureStatus(row.status),
        earliest=row.earliest_at,
        reasons=tuple(_reason(r) for r in stored),
        destruction_id=destruction_id,
    )


def _reason(stored: dict[str, Any]) -> Reason:
    until = stored.get("until")
    return Reason(**{**stored, "until": datetime.fromisoformat(until) if until else None})


def _reasons_json(items: tuple[Reason, ...]) -> str:
    return json.dumps(to_json(items))


class Rights:
    def __init__(self, ctx: VaultContext, disposal: Disposal, records: Records) -> None:
        self.ctx = ctx
        self.disposal = disposal
        self.records = records

    def request_erasure(self, subject_id: str, actor: Actor) -> ErasureDecision:
        now = self.ctx.clock()
        with session_scope(self.ctx.engine) as session:
            subject = self.ctx.subject(session, subject_id, for_update=True)
            self.ctx.check_access(subject, actor, data=False)
            existing = open_request(session, subject_id)
            decision = subject_decision(session, subject, now)
            row = existing or ErasureRequestRow(
                id=uuid.uuid4().hex,
                subject_id=subject_id,
                requested_by=actor.name,
                requested_at=now,
                status=ErasureStatus.DEFERRED,
            )
            why = reasons(decision.blocks)
            row.reasons = _reasons_json(why)
            row.earliest_at = decision.earliest if not decision.disposable else now
            session.add(row)
            self.ctx.audit.about(
                session,
                actor,
                "erasure.request",
                subject,
                target=row.id,
                outcome="accepted" if decision.disposable else "deferred",
            )
        if decision.disposable:
            self.disposal.schedule(subject_id, "erasure-request", actor)
        return self.erasure_status(subject_id, actor, audit=False)

    def erasure_status(self, subject_id: str, actor: Actor, audit: bool = True) -> ErasureDecision:
        with session_scope(self.ctx.engine) as session:
            subject = self.ctx.subject(session, subject_id)
            require_region(actor, subject.region)
            row = session.exec(
                select(ErasureRequestRow)
                .where(ErasureRequestRow.subject_id == subject_id)
                .order_by(col(ErasureRequestRow.requested_at).desc())
            ).first()
            if row is None:
                raise NotFound(f"no erasure request for subject {subject_id}")
            destruction = open_destruction(session, subject_id)
            if row.status in OPEN_ERASURE and subject.state == SubjectState.ACTIVE:
                # answer with today's reasons, not the ones from the day it was filed
                decision = subject_decision(session, subject, self.ctx.clock())
                if destruction is None:
                    row.status = ErasureStatus.DEFERRED if not decision.disposable else row.status
                    row.reasons = _reasons_json(reasons(decision.blocks))
                    row.earliest_at = decision.earliest or row.earliest_at
                else:
                    row.earliest_at = destruction.not_before
                session.add(row)
            if audit:
                self.ctx.audit.about(
                    session,
                    actor,
                    "erasure.status",
                    subject,
                    target=row.id,
                )
            return _decision(row, destruction.id if destruction else None)

    def set_restriction(self, subject_id: str, restricted: bool, actor: Actor) -> None:
        with session_scope(self.ctx.engine) as session:
            subject = self.ctx.subject(session, subject_id, for_update=True)
            self.ctx.check_access(subject, actor, data=False)
            subject.restricted = restricted
            session.add(subject)
            self.ctx.audit.about(
                session,
                actor,
                "subject.restrict" if restricted else "subject.unrestrict",
                subject,
            )

    def export(self, subject_id: str, out: IO[bytes], actor: Actor) -> dict[str, object]:
        """Write a zip of every stored version and ``manifest.json`` to ``out``."""
        with (
            self.ctx.audit_refusal(actor, "subject.export", subject_id) as note,
            session_scope(self.ctx.engine) as session,
        ):
            subject = self.ctx.subject(session, subject_id)
            note.about(subject)
            self.ctx.check_access(subject, actor, data=True)
            region = subject.region
            rows = session.exec(
                select(RecordRow, RecordVersionRow)
                .join(RecordVersionRow, col(RecordVersionRow.record_id) == col(RecordRow.id))
                .where(RecordRow.subject_id == subject_id)
                .where(RecordRow.state == RecordState.ACTIVE)
                .where(RecordVersionRow.state == VersionState.COMMITTED)
                .order_by(
                    col(RecordRow.created_at), col(RecordRow.id), col(RecordVersionRow.version)
                )
            ).all()
            plan = [
                (
                    r.id,
                    r.category,
                    r.retain_until,
                    r.last_processed_at,
                    v.version,
                    v.size,
                    v.content_type,
                    v.created_at,
                )
                for r, v in rows
            ]
        manifest_records: dict[str, dict[str, object]] = {}
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
            for rid, category, retain, processed, version, size, ctype, created in plan:
                name = f"records/{rid}/v{version}{_EXT.get(ctype, '.bin')}"
                digest = hashlib.sha256()
                reader = self.records.open(rid, version, None, actor, "export")
                with reader, archive.open(name, "w", force_zip64=size > 2**31) as entry:
                    for chunk in reader.iter_chunks():
                        digest.update(chunk)
                        entry.write(chunk)
                entry_meta = manifest_records.setdefault(
                    rid,
                    {
                        "id": rid,
                        "category": category,
                        "retain_until": retain.isoformat(),
                        "last_processed_at": processed.isoformat(),
                        "versions": [],
                    },
                )
                versions = entry_meta["versions"]
                assert isinstance(versions, list)
                versions.append(
                    {
                        "version": version,
                        "size": size,
                        "content_type": ctype,
                        "created_at": created.isoformat(),
                        "path": name,
                        "sha256": digest.hexdigest(),
                    }
                )
            manifest: dict[str, object] = {
                "type": "recvault.subject-export",
                "subject_id": subject_id,
                "region": region,
                "exported_at": self.ctx.clock().isoformat(),
                "exported_by": actor.name,
                "records": list(manifest_records.values()),
            }
            archive.writestr("manifest.json", json.dumps(manifest, indent=2, sort_keys=True))
        self.ctx.audit.record(
            actor=actor,
            action="subject.export",
            target=subject_id,
            subject_id=subject_id,
            region=region,
            purpose="subject access request",
        )
        return manifest
