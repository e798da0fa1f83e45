"""Subject export (DPO, right of access): one zip with every stored version and a manifest.

The archive streams: each version is read through the verified record path
and written into the zip as it is decrypted, with its SHA-256 in
``manifest.json``. An export is not a processing event (it does not move the
retention clock); it is audited as a subject access request.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any

from sqlmodel import Session, col, select

from vault.context import VaultContext
from vault.domain import Actor, RecordState, VersionState
from vault.metadata import RecordRow, RecordVersionRow, session_scope
from vault.records.reads import Records

#: file-name endings inside the archive, by content type (anything else: .bin)
_EXT = {
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "application/pdf": ".pdf",
    "model/stl": ".stl",
    "application/dicom": ".dcm",
    "text/plain": ".txt",
    "application/json": ".json",
}


@dataclass(frozen=True)
class _Entry:
    """One stored version to export, read from the DB before any byte is streamed."""

    record_id: str
    category: str
    retain_until: datetime
    last_processed_at: datetime
    version: int
    size: int
    content_type: str
    created_at: datetime

    @property
    def path(self) -> str:
        return f"records/{self.record_id}/v{self.version}{_EXT.get(self.content_type, '.bin')}"


class SubjectExport:
    def __init__(self, ctx: VaultContext, records: Records) -> None:
        self.ctx = ctx
        self.records = records

    def export(self, subject_id: str, out: IO[bytes], actor: Actor) -> dict[str, Any]:
        """Write a zip of every stored version and ``manifest.json`` to ``out``."""
        with (
            self.ctx.audit_refusal(actor, "subject.export", subject_id) as note,
            session_scope(self.ctx.engine) as session,
        ):
            subject = self.ctx.subject(session, subject_id)
            note.about(subject)
            self.ctx.check_access(subject, actor, data=True)
            region = subject.region
            entries = _entries(session, subject_id)
        records: dict[str, dict[str, Any]] = {}
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
            for entry in entries:
                digest = self._write(archive, entry, actor)
                _describe(records, entry, digest)
            manifest: dict[str, Any] = {
                "type": "recvault.subject-export",
                "subject_id": subject_id,
                "region": region,
                "exported_at": self.ctx.clock().isoformat(),
                "exported_by": actor.name,
                "records": list(records.values()),
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

    def _write(self, archive: zipfile.ZipFile, entry: _Entry, actor: Actor) -> str:
        """Stream one version into the archive; its SHA-256."""
        digest = hashlib.sha256()
        reader = self.records.open(entry.record_id, entry.version, None, actor, "export")
        with reader, archive.open(entry.path, "w", force_zip64=entry.size > 2**31) as out:
            for chunk in reader.iter_chunks():
                digest.update(chunk)
                out.write(chunk)
        return digest.hexdigest()


def _entries(session: Session, subject_id: str) -> list[_Entry]:
    rows = session.exec(
        select(RecordRow, RecordVersionRow)
        .join(RecordVersionRow, col(RecordVersionRow.record_id) == col(RecordRow.id))
        .where(RecordRow.subject_id == subject_id)
        .where(RecordRow.state == RecordState.ACTIVE)
        .where(RecordVersionRow.state == VersionState.COMMITTED)
        .order_by(col(RecordRow.created_at), col(RecordRow.id), col(RecordVersionRow.version))
    ).all()
    return [
        _Entry(
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


def _describe(records: dict[str, dict[str, Any]], entry: _Entry, digest: str) -> None:
    """Add one exported version to the manifest's record entries."""
    record = records.setdefault(
        entry.record_id,
        {
            "id": entry.record_id,
            "category": entry.category,
            "retain_until": entry.retain_until.isoformat(),
            "last_processed_at": entry.last_processed_at.isoformat(),
            "versions": [],
        },
    )
    record["versions"].append(
        {
            "version": entry.version,
            "size": entry.size,
            "content_type": entry.content_type,
            "created_at": entry.created_at.isoformat(),
            "path": entry.path,
            "sha256": digest,
        }
    )
