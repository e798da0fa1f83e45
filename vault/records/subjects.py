"""Data subjects: pinned to one region, found by an HMAC of the clinic's reference."""

from __future__ import annotations

import uuid

from sqlalchemy import exc as sa_exc
from sqlmodel import col, select

from keys.naming import subject_key_name
from vault.context import VaultContext, require_region
from vault.domain import Actor, Subject, SubjectState
from vault.errors import InvalidInput, VaultError
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

    def _live(self, region: str, base: str) -> SubjectRow | None:
        """The live subject of this reference in ``region`` (only there: ADR 0005)."""
        keys = [self.ctx.ref_tag(region, base), base]  # base: subjects from before ADR 0005
        with session_scope(self.ctx.engine) as session:
            return session.exec(
                select(SubjectRow)
                .where(col(SubjectRow.ref_hmac).in_(keys))
                .where(SubjectRow.region == region)
                .where(col(SubjectRow.state).in_([SubjectState.ACTIVE, SubjectState.DESTROYING]))
            ).first()

    def create(self, external_ref: str, region: str, actor: Actor) -> tuple[Subject, bool]:
        """Return ``(subject, created)``; idempotent per external reference within a region."""
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
        base = self.ctx.ref_base(external_ref)
        existing = self._live(region, base)
        if existing is not None:
            return to_subject(existing), False
        subject_id = uuid.uuid4().hex
        # A sharded region records the mount in the name it answers (ADR 0012)
        key_name = (
            self.ctx.region(region)
            .keys.ensure_key(subject_key_name(self.ctx.name_secret, subject_id))
            .name
        )
        try:
            with session_scope(self.ctx.engine) as session:
                row = SubjectRow(
                    id=subject_id,
                    ref_hmac=self.ctx.ref_tag(region, base),
                    ref_base=base,
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
            winner = self._live(region, base)
            if winner is None:
                raise
            return to_subject(winner), False
        return to_subject(row), True

    def find(self, external_ref: str, actor: Actor) -> list[Subject]:
        """Live subjects of this reference, only in regions ``actor`` is granted (audited)."""
        if not isinstance(external_ref, str) or not external_ref.strip() or len(external_ref) > 512:
            raise InvalidInput("external_ref must be a non-empty string of at most 512 characters")
        base = self.ctx.ref_base(external_ref)
        found = [
            row
            for region in sorted(self.ctx.granted(actor))
            if (row := self._live(region, base)) is not None
        ]
        if not found:
            self.ctx.audit.record(actor=actor, action="subject.find", outcome="not-found")
        with session_scope(self.ctx.engine) as session:
            for row in found:
                self.ctx.audit.about(session, actor, "subject.find", row)
        return [to_subject(row) for row in found]

    def get(self, subject_id: str, actor: Actor) -> Subject:
        with (
            self.ctx.audit_refusal(actor, "subject.info", subject_id) as note,
            session_scope(self.ctx.engine) as session,
        ):
            row = self.ctx.subject(session, subject_id)
            note.about(row)
            require_region(actor, row.region)
            self.ctx.audit.about(session, actor, "subject.info", row)
        return to_subject(row)
