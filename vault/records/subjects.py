"""Data subjects: pinned to one region, found by an HMAC of the clinic's reference."""

from __future__ import annotations

import uuid

from sqlalchemy import exc as sa_exc
from sqlmodel import select

from keys.naming import subject_key_name
from vault.context import VaultContext, require_region
from vault.domain import Actor, Subject, SubjectState
from vault.errors import Conflict, InvalidInput, RegionNotGranted, VaultError
from vault.metadata import SubjectRow, session_scope


def to_subject(row: SubjectRow) -> Subject:
    return Subject(
        id=row.id,
        region=row.region,
        key_name=row.key_name,
        state=SubjectState(row.state),
        restricted=row.restricted,
        created_at=row.created_at,
    )


class Subjects:
    def __init__(self, ctx: VaultContext) -> None:
        self.ctx = ctx

    def _live(self, ref_hmac: str) -> SubjectRow | None:
        with session_scope(self.ctx.engine) as session:
            return session.exec(
                select(SubjectRow)
                .where(SubjectRow.ref_hmac == ref_hmac)
                .where(SubjectRow.state.in_([SubjectState.ACTIVE, SubjectState.DESTROYING]))  # type: ignore[attr-defined]
            ).first()

    def create(self, external_ref: str, region: str, actor: Actor) -> tuple[Subject, bool]:
        """Return ``(subject, created)``; idempotent per external reference."""
        if not isinstance(external_ref, str) or not external_ref.strip() or len(external_ref) > 512:
            raise InvalidInput("external_ref must be a non-empty string of at most 512 characters")
        try:
            self.ctx.region(region)
            require_region(actor, region)
        except VaultError as exc:
            self.ctx.audit.record(
                actor=actor,
                action="subject.create",
                region=str(region)[:8],
                outcome=f"refused:{exc.code}",
            )
            raise
        ref = self.ctx.ref_hmac(external_ref)
        existing = self._live(ref)
        if existing is not None:
            return self._existing(existing, region), False
        subject_id = uuid.uuid4().hex
        key_name = subject_key_name(self.ctx.name_secret, subject_id)
        self.ctx.region(region).keys.ensure_key(key_name)
        try:
            with session_scope(self.ctx.engine) as session:
                row = SubjectRow(
                    id=subject_id,
                    ref_hmac=ref,
                    region=region,
                    key_name=key_name,
                    state=SubjectState.ACTIVE,
                    restricted=False,
                    created_at=self.ctx.clock(),
                )
                session.add(row)
                session.flush()
                self.ctx.audit.append(
                    session,
                    actor=actor,
                    action="subject.create",
                    target=subject_id,
                    subject_id=subject_id,
                    region=region,
                )
        except sa_exc.IntegrityError:
            # A concurrent create won the race: return its subject. The key we made
            # is unreferenced and holds nothing; destroy it.
            self.ctx.region(region).keys.destroy(key_name)
            winner = self._live(ref)
            if winner is None:
                raise
            return self._existing(winner, region), False
        return to_subject(row), True

    @staticmethod
    def _existing(row: SubjectRow, region: str) -> Subject:
        if row.region != region:
            # Neither the other region nor the subject is named (isolation between regions).
            raise Conflict(f"this reference cannot be registered in region {region}")
        return to_subject(row)

    def get(self, subject_id: str, actor: Actor) -> Subject:
        with session_scope(self.ctx.engine) as session:
            row = self.ctx.subject(session, subject_id)
            exc: VaultError | None = None
            try:
                require_region(actor, row.region)
            except RegionNotGranted as refused:
                exc = refused
            outcome = f"refused:{exc.code}" if exc else "ok"
            self.ctx.audit.about(
                session,
                actor,
                "subject.info",
                row,
                outcome=outcome,
            )
        if exc is not None:
            raise exc
        return to_subject(row)
