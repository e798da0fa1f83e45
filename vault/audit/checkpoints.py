"""Signed audit checkpoints, kept outside the database, in every region's object store.

A checkpoint is a signed document (``vault.crypto.documents``: canonical JSON
+ Ed25519, the deployment's signing key) naming the chain's seq, the hash of
the event at that seq, that event's time, and the hash and seq of the
previous checkpoint. It is written under ``audit/checkpoints/<seq>.json``
(12 digits) to each region's store; on stores with Object Lock it gets a
COMPLIANCE retention of ``audit.checkpoint_retention``. Whoever can rewrite
the metadata DB cannot rewrite or remove it, and cannot sign a new one.

``verify`` compares the chain with the newest valid checkpoint, so deleting
the newest events and rewinding ``audit_head`` (which leaves a chain whose
links are whole) is reported. A checkpoint is signed only over a chain that
verified against the previous one: tampering is reported, never signed over.

The document holds no wall-clock time of its own (the time is that of the
event at ``seq``), so writers racing on one seq sign byte-identical files.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy.exc import ProgrammingError, SQLAlchemyError

from vault.audit.chain import Anchor
from vault.audit.partitions import OWNER_AHEAD, AuditPartitions
from vault.context import VaultContext
from vault.crypto.documents import canonical, sign_document, verify_document
from vault.domain import Actor, AuditCheckpoint, AuditVerification
from vault.errors import IntegrityError, Unavailable, VaultError
from vault.metadata.sessions import DB_UNAVAILABLE
from vault.storage.base import ObjectStore, RetentionMode

log = logging.getLogger("recvault.audit")


#: set once this process has said its database role does not make audit partitions
_said_not_ours = threading.Event()


def _not_allowed(exc: ProgrammingError) -> bool:
    """PostgreSQL's ``insufficient_privilege`` (SQLSTATE 42501)."""
    return getattr(exc.orig, "sqlstate", None) == "42501"


#: every checkpoint object lives under this prefix of each region's store
PREFIX = "audit/checkpoints/"
CHECKPOINT_KEY = re.compile(r"audit/checkpoints/[0-9]{12}\.json")
DOCUMENT_TYPE = "recvault.audit-checkpoint"
_HEX64 = re.compile(r"[0-9a-f]{64}")
#: a checkpoint file is a few hundred bytes; refuse to parse anything much larger
_MAX_BYTES = 64 * 1024


def checkpoint_key(seq: int) -> str:
    return f"{PREFIX}{seq:012d}.json"


def is_checkpoint_key(key: str) -> bool:
    """True for the exact name of a checkpoint object (the residency report accounts for it)."""
    return CHECKPOINT_KEY.fullmatch(key) is not None


def envelope_hash(envelope: dict[str, Any]) -> str:
    """SHA-256 of the canonical signed envelope: what the next checkpoint links to."""
    return hashlib.sha256(canonical(envelope)).hexdigest()


def parse_checkpoint(envelope: Any, public_key: str, key: str = "") -> AuditCheckpoint:
    """A checkpoint from its signed envelope, or ``IntegrityError`` saying what is wrong.

    The signature is checked against ``public_key`` (the deployment's), never
    against the key the envelope carries.
    """
    if not isinstance(envelope, dict) or not verify_document(envelope, public_key):
        raise IntegrityError("checkpoint signature does not verify")
    doc = envelope.get("document")
    try:
        assert isinstance(doc, dict) and doc["type"] == DOCUMENT_TYPE and doc["version"] == 1
        seq, head_hash, prev_seq, prev_hash = (
            doc["seq"],
            doc["head_hash"],
            doc["prev_seq"],
            doc["prev_hash"],
        )
        assert isinstance(seq, int) and seq >= 0 and _HEX64.fullmatch(head_hash)
        assert prev_seq is None or (isinstance(prev_seq, int) and 0 <= prev_seq < seq)
        assert (prev_seq is None) == (prev_hash is None)
        assert prev_hash is None or _HEX64.fullmatch(prev_hash)
        head_ts = datetime.fromisoformat(doc["head_ts"])
    except (AssertionError, KeyError, TypeError, ValueError):
        raise IntegrityError("checkpoint document is malformed") from None
    return AuditCheckpoint(
        seq=seq,
        head_hash=head_hash,
        head_ts=head_ts,
        hash=envelope_hash(envelope),
        prev_seq=prev_seq,
        prev_hash=prev_hash,
        key=key or checkpoint_key(seq),
    )


@dataclass(frozen=True)
class OfflineVerification:
    """The verdict on a set of checkpoint files, checked with the public key only."""

    ok: bool
    checkpoints: int
    first_seq: int | None = None
    newest_seq: int | None = None
    #: the file at fault and what is wrong with it
    file: str | None = None
    reason: str | None = None


def verify_offline(files: Iterable[tuple[str, bytes]], public_key: str) -> OfflineVerification:
    """Check ``(name, bytes)`` checkpoint files: signatures, seqs, and links by hash.

    Seqs must be distinct; every checkpoint but the oldest must name, by seq
    and hash, a checkpoint present in the set (so a missing or replaced middle
    file breaks a link). The oldest may link to files not given (a partial export).
    """
    parsed: list[tuple[str, AuditCheckpoint]] = []
    for name, data in files:
        try:
            if len(data) > _MAX_BYTES:
                raise IntegrityError("checkpoint file is too large")
            envelope = json.loads(data)
            parsed.append((name, parse_checkpoint(envelope, public_key, name)))
        except (ValueError, IntegrityError) as exc:
            reason = exc.message if isinstance(exc, IntegrityError) else "not JSON"
            return OfflineVerification(False, len(parsed), file=name, reason=reason)
    if not parsed:
        return OfflineVerification(False, 0, reason="no checkpoint files")
    parsed.sort(key=lambda item: item[1].seq)
    by_seq: dict[int, AuditCheckpoint] = {}
    for name, checkpoint in parsed:
        if checkpoint.seq in by_seq:
            return _broken(parsed, name, f"a second checkpoint for seq {checkpoint.seq}")
        by_seq[checkpoint.seq] = checkpoint
    for name, checkpoint in parsed[1:]:
        prev = by_seq.get(checkpoint.prev_seq) if checkpoint.prev_seq is not None else None
        if prev is None:
            return _broken(parsed, name, f"links to checkpoint {checkpoint.prev_seq}, not present")
        if prev.hash != checkpoint.prev_hash:
            return _broken(parsed, name, f"its link to checkpoint {prev.seq} does not match")
    return OfflineVerification(True, len(parsed), parsed[0][1].seq, parsed[-1][1].seq)


def _broken(
    parsed: list[tuple[str, AuditCheckpoint]], name: str, reason: str
) -> OfflineVerification:
    return OfflineVerification(
        False, len(parsed), parsed[0][1].seq, parsed[-1][1].seq, file=name, reason=reason
    )


@dataclass(frozen=True)
class _Newest:
    checkpoint: AuditCheckpoint | None
    #: found, none or unavailable (no store could be listed)
    status: str


class Checkpoints:
    """Write, find and check signed checkpoints of the audit chain."""

    def __init__(self, ctx: VaultContext) -> None:
        self.ctx = ctx
        self.public_key = ctx.signing_key.public_key_b64()

    # -- reading ---------------------------------------------------------------

    def newest(self) -> _Newest:
        """The newest validly signed checkpoint in any region's store."""
        best: AuditCheckpoint | None = None
        answered = False
        for name, region in sorted(self.ctx.regions.items()):
            try:
                found = self._newest_in(region.store)
                answered = True
            except VaultError as exc:
                log.warning("audit checkpoints: store of region %s unreadable (%s)", name, exc.code)
                continue
            if found is not None and (best is None or found.seq > best.seq):
                best = found
        if best is not None:
            return _Newest(best, "found")
        return _Newest(None, "none" if answered else "unavailable")

    def _newest_in(self, store: ObjectStore) -> AuditCheckpoint | None:
        keys = [o.key for o in store.list(PREFIX) if is_checkpoint_key(o.key)]
        for key in reversed(keys):
            try:
                with store.open(key) as stream:
                    data = stream.read(_MAX_BYTES + 1)
                return parse_checkpoint(json.loads(data), self.public_key, key)
            except (ValueError, IntegrityError):
                # A file nobody with the signing key wrote: skip it, but say so.
                log.warning("audit checkpoints: %s is not a valid checkpoint; skipped", key)
        return None

    def verify(self, actor: Actor) -> AuditVerification:
        """The chain checked link by link and against the newest checkpoint; audited."""
        newest = self.newest()
        anchor = _anchor(newest.checkpoint)
        verdict = self.ctx.audit.verify(anchor)
        if anchor is None:
            verdict = _status(verdict, newest.status)
        outcome = "ok" if verdict.ok else f"broken:{verdict.first_broken_seq}"
        if not verdict.ok:
            log.error(
                "audit chain does not verify at event %s: %s",
                verdict.first_broken_seq,
                verdict.reason,
            )
        self.ctx.audit.record(actor=actor, action="audit.verify", outcome=outcome)
        return verdict

    # -- writing ---------------------------------------------------------------

    def write(self, actor: Actor, *, only_if_new: bool = False) -> AuditCheckpoint | None:
        """Verify the chain against the newest checkpoint, then sign and store a new one.

        Raises ``IntegrityError`` (after auditing the refusal) when the chain does
        not verify, and ``Unavailable`` when no region's store took the file.
        With ``only_if_new``, returns None when nothing but checkpoint events
        were appended since the newest checkpoint (an idle deployment).
        """
        self._maintain_partitions()
        newest = self.newest()
        if newest.status == "unavailable":
            raise Unavailable("no region's store answered; no checkpoint written")
        previous = newest.checkpoint
        verdict = self.ctx.audit.verify(_anchor(previous))
        if not verdict.ok:
            log.error(
                "audit checkpoint refused: the chain does not verify at event %s (%s)",
                verdict.first_broken_seq,
                verdict.reason,
            )
            self.ctx.audit.record(
                actor=actor,
                action="audit.checkpoint",
                target=f"seq:{verdict.first_broken_seq}",
                outcome="refused:chain-broken",
            )
            raise IntegrityError(
                f"the audit chain does not verify at event {verdict.first_broken_seq}: "
                f"{verdict.reason}; no checkpoint signed"
            )
        seq = verdict.events
        if previous is not None and (seq == previous.seq or (only_if_new and self._idle(previous))):
            return None
        head = self.ctx.audit.head_event(seq)
        if head is None:  # an empty chain: nothing to sign yet
            return None
        document = {
            "type": DOCUMENT_TYPE,
            "version": 1,
            "seq": seq,
            "head_hash": head.hash,
            "head_ts": head.ts.isoformat(),
            "prev_seq": previous.seq if previous else None,
            "prev_hash": previous.hash if previous else None,
        }
        envelope = sign_document(self.ctx.signing_key, document)
        written = self._store_everywhere(checkpoint_key(seq), canonical(envelope))
        checkpoint = parse_checkpoint(envelope, self.public_key)
        self.ctx.audit.record(
            actor=actor,
            action="audit.checkpoint",
            target=f"seq:{seq}",
            outcome="ok" if len(written) == len(self.ctx.regions) else "partial",
        )
        return replace(checkpoint, regions=tuple(written))

    def _maintain_partitions(self) -> None:
        """PostgreSQL: the audit table's partitions for this month and the next ones exist
        before events need them (vault/audit/partitions.py); a failure waits for next time.

        A database that does not answer stops the checkpoint here, with the one error its
        next step would raise: there is nothing to verify or sign without it.
        """
        try:
            made = AuditPartitions(self.ctx).maintain()
        except DB_UNAVAILABLE as exc:
            raise Unavailable("metadata database unavailable") from exc
        except ProgrammingError as exc:
            if _not_allowed(exc):
                # expected of an application role that may not create tables: the owner
                # makes the months ahead (recvault db upgrade); said once per process
                if not _said_not_ours.is_set():
                    _said_not_ours.set()
                    log.warning(
                        "audit partitions are not made by this database role (%s); the "
                        "owner role makes them: run `recvault db upgrade` as it, which makes "
                        "%d months ahead, at least yearly",
                        type(exc.orig).__name__,
                        OWNER_AHEAD,
                    )
                return
            log.warning("audit partitions not maintained (%s); retrying", type(exc).__name__)
            return
        except SQLAlchemyError as exc:
            log.warning("audit partitions not maintained (%s); retrying", type(exc).__name__)
            return
        if made:
            log.info("audit partitions made: %s", ", ".join(made))

    def _idle(self, previous: AuditCheckpoint) -> bool:
        after = list(self.ctx.audit.events(after_seq=previous.seq, page=2))
        return len(after) <= 1 and all(e.action == "audit.checkpoint" for e in after)

    def _store_everywhere(self, key: str, data: bytes) -> list[str]:
        retention = self.ctx.settings.audit.checkpoint_retention
        written = []
        for name, region in sorted(self.ctx.regions.items()):
            store = region.store
            try:
                store.put(key, [data])
                if store.supports_object_lock:
                    until = retention.after(self.ctx.clock())
                    store.set_retention(key, until, RetentionMode.COMPLIANCE)
                written.append(name)
            except VaultError as exc:
                log.warning(
                    "audit checkpoint %s not written to region %s (%s)", key, name, exc.code
                )
        if not written:
            raise Unavailable("no region's store took the audit checkpoint")
        return written


def _anchor(checkpoint: AuditCheckpoint | None) -> Anchor | None:
    return Anchor(checkpoint.seq, checkpoint.head_hash) if checkpoint is not None else None


def _status(verdict: AuditVerification, status: str) -> AuditVerification:
    return replace(verdict, checkpoint_status=status)
