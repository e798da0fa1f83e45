"""What every part of the records service shares: DB, regions, clock, audit, secrets."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from keys.base import KeyNotFound
from vault.audit.chain import AuditLog
from vault.crypto import SigningKey
from vault.domain import Actor, Category, RecordState, Role, SubjectState
from vault.errors import (
    Erased,
    InvalidInput,
    NotFound,
    ProcessingRestricted,
    RegionNotGranted,
    VaultError,
)
from vault.metadata import RecordRow, SubjectRow
from vault.paging import Cursors, Key
from vault.regions import Region
from vault.settings import Settings

_ID = re.compile(r"[0-9a-f]{32}")


def audit_target(value: object) -> str:
    """What a refusal may write as its target: an id of the right shape, or nothing.

    Refused requests carry whatever the caller sent; only a well-formed id goes
    into the audit log, so no caller can write text into it.
    """
    text = str(value)
    return text if _ID.fullmatch(text) else ""


def require_region(actor: Actor, region: str) -> None:
    """The one region-grant check: refuse a principal that is not granted ``region``."""
    if not actor.may_access_region(region):
        raise RegionNotGranted(f"region {region} not granted to {actor.name}")


class Refusal:
    """What to say in the audit event if the guarded block is refused."""

    def __init__(self) -> None:
        self.subject_id = ""
        self.region = ""

    def about(self, subject: SubjectRow) -> None:
        self.subject_id, self.region = subject.id, subject.region


@dataclass
class VaultContext:
    settings: Settings
    engine: Engine
    regions: dict[str, Region]
    clock: Callable[[], datetime]
    audit: AuditLog
    name_secret: bytes
    signing_key: SigningKey

    @contextmanager
    def audit_refusal(self, actor: Actor, action: str, target: str) -> Iterator[Refusal]:
        """Audit a refused operation. Use it *outside* the operation's transaction, so
        the refusal is recorded after that transaction has rolled back."""
        note = Refusal()
        try:
            yield note
        except VaultError as exc:
            self.audit.record(
                actor=actor,
                action=action,
                target=audit_target(target),
                subject_id=note.subject_id,
                region=note.region,
                outcome=f"refused:{exc.code}",
            )
            raise

    @cached_property
    def cursors(self) -> Cursors:
        """Signs and checks list cursors (keyed from the deployment's name secret)."""
        return Cursors(self.name_secret)

    def position(
        self,
        actor: Actor,
        action: str,
        listing: str,
        cursor: str | None,
        shape: Sequence[type[Key]],
    ) -> tuple[Key, ...] | None:
        """The keyset position of ``cursor`` for ``listing``; a refused cursor is audited."""
        try:
            return self.cursors.decode(listing, cursor, shape)
        except VaultError as exc:
            self.audit.record(actor=actor, action=action, outcome=f"refused:{exc.code}")
            raise

    def granted(self, actor: Actor) -> list[str]:
        """The configured regions ``actor`` may see and act on, sorted."""
        return sorted(name for name in self.regions if actor.may_access_region(name))

    def region(self, name: str) -> Region:
        try:
            return self.regions[name]
        except KeyError:
            known = ", ".join(sorted(self.regions)) or "none"
            raise InvalidInput(f"unknown region {name!r} (configured: {known})") from None

    def ref_base(self, external_ref: str) -> str:
        """The clinic's reference as an HMAC: no region, never looked up across regions."""
        return hmac.new(
            self.name_secret, b"recvault/external-ref\x00" + external_ref.encode(), hashlib.sha256
        ).hexdigest()

    def ref_tag(self, region: str, base: str) -> str:
        """The lookup key of a reference *within* ``region`` (ADR 0005).

        References are unique per region: looking one up never says whether it
        is used in a region the caller may not see.
        """
        message = b"recvault/external-ref-in-region\x00" + region.encode() + b"\x00" + base.encode()
        return hmac.new(self.name_secret, message, hashlib.sha256).hexdigest()

    def retain_until(self, category: str, last_processed: datetime) -> datetime:
        return self.settings.retention_for(Category(category)).after(last_processed)

    # -- guards shared by every operation on a subject's data --------------------

    def subject(self, session: Session, subject_id: str, *, for_update: bool = False) -> SubjectRow:
        query = select(SubjectRow).where(SubjectRow.id == subject_id)
        if for_update:
            query = query.with_for_update()
        row = session.exec(query).first()
        if row is None:
            raise NotFound(f"subject {subject_id} not found")
        return row

    def check_access(
        self, subject: SubjectRow, actor: Actor, *, data: bool, dpo_exempt: bool = True
    ) -> None:
        """Refuse erased subjects, ungranted regions and (for data access) restriction."""
        if subject.state == SubjectState.DESTROYED:
            raise Erased(f"subject {subject.id} was erased")
        if subject.state == SubjectState.TRANSFERRED:
            raise Erased(f"subject {subject.id} was transferred out of region {subject.region}")
        require_region(actor, subject.region)
        if data and subject.restricted and not (dpo_exempt and actor.has(Role.DPO)):
            raise ProcessingRestricted(f"processing of subject {subject.id} is restricted")

    def record(self, session: Session, record_id: str) -> RecordRow:
        row = session.get(RecordRow, record_id)
        if row is None or row.state == RecordState.PENDING:
            raise NotFound(f"record {record_id} not found")
        return row

    def key_missing(self, subject: SubjectRow, exc: KeyNotFound) -> Exception:
        """A key-service 'not found' means erased when our DB says the key was destroyed."""
        if subject.state in (SubjectState.DESTROYED, SubjectState.DESTROYING):
            return Erased(f"subject {subject.id} was erased")
        return exc
