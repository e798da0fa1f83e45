"""RecordVault: the one public entry point of recvault (DESIGN section 9).

Edges (HTTP API, CLI, Python callers) call only this class. It owns the
metadata DB, each region's store and key provider, the clock and the audit
log, and delegates each capability to a small component. This module holds
the record path (subjects, records, holds, subject rights) and what the edges
need (refusals, readiness); the security and compliance calls come from
``vault.oversight``, and ``vault.wiring`` builds the context from settings.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import IO

from vault.context import VaultContext, audit_target
from vault.domain import (
    SYSTEM,
    Actor,
    Category,
    ErasureDecision,
    Hold,
    Subject,
    as_actor,
)
from vault.domain import RecordInfo as RecordInfo
from vault.erasure.requests import ErasureRequests
from vault.erasure.restriction import set_restriction
from vault.errors import VaultError
from vault.format.content import Content
from vault.format.reader import RecordReader
from vault.oversight import VaultOversight
from vault.paging import DEFAULT_LIMIT, Page
from vault.principals import Principals
from vault.records.export import SubjectExport
from vault.records.reads import Records
from vault.records.subjects import Subjects
from vault.records.writes import RecordInput, RecordWriter
from vault.regions import KeyCallObserver, Region
from vault.retention.holds import Holds
from vault.settings import Settings
from vault.wiring import build_context


class RecordVault(VaultOversight):
    """Encrypted, region-pinned, retention-aware storage of treatment records."""

    def __init__(self, ctx: VaultContext) -> None:
        super().__init__(ctx)
        self._subjects = Subjects(ctx)
        self._records = Records(ctx)
        self._writer = RecordWriter(ctx)
        self._holds = Holds(ctx)
        self._erasure = ErasureRequests(ctx, self._disposal)
        self._export = SubjectExport(ctx, self._records)
        self.principals = Principals(ctx)

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        clock: Callable[[], datetime] | None = None,
        regions: dict[str, Region] | None = None,
        *,
        key_observer: KeyCallObserver | None = None,
    ) -> RecordVault:
        return cls(build_context(settings, clock, regions, key_observer=key_observer))

    @property
    def settings(self) -> Settings:
        return self._ctx.settings

    @property
    def regions(self) -> dict[str, Region]:
        return self._ctx.regions

    @property
    def clock(self) -> Callable[[], datetime]:
        """The vault's clock (UTC): edges measure their own timeouts with it."""
        return self._ctx.clock

    def close(self) -> None:
        self._ctx.engine.dispose()

    # -- subjects --------------------------------------------------------------

    def create_subject(
        self, external_ref: str, region: str, *, actor: Actor | str = SYSTEM
    ) -> Subject:
        return self._subjects.create(external_ref, region, as_actor(actor))[0]

    def create_subject_ex(
        self, external_ref: str, region: str, *, actor: Actor | str = SYSTEM
    ) -> tuple[Subject, bool]:
        """Like ``create_subject``, also telling whether the subject is new."""
        return self._subjects.create(external_ref, region, as_actor(actor))

    def get_subject(self, subject_id: str, *, actor: Actor | str = SYSTEM) -> Subject:
        return self._subjects.get(subject_id, as_actor(actor))

    def find_subjects(self, external_ref: str, *, actor: Actor | str = SYSTEM) -> list[Subject]:
        """The live subjects of a clinic reference in the caller's regions (never creates)."""
        return self._subjects.find(external_ref, as_actor(actor))

    # -- records ---------------------------------------------------------------

    def put_record(
        self,
        subject_id: str,
        category: Category | str,
        content: Content,
        *,
        content_type: str = "application/octet-stream",
        size: int | None = None,
        actor: Actor | str = SYSTEM,
        purpose: str = "treatment",
    ) -> RecordInfo:
        item = RecordInput(subject_id, category, content, content_type, size)
        return self._writer.put([item], as_actor(actor), purpose)[0]

    def put_records(
        self,
        items: Sequence[RecordInput],
        *,
        actor: Actor | str = SYSTEM,
        purpose: str = "treatment",
    ) -> list[RecordInfo]:
        return self._writer.put(items, as_actor(actor), purpose)

    def update_record(
        self,
        record_id: str,
        content: Content,
        *,
        content_type: str = "application/octet-stream",
        size: int | None = None,
        actor: Actor | str = SYSTEM,
        purpose: str = "rectification",
    ) -> RecordInfo:
        return self._writer.update(
            record_id, content, content_type, size, actor=as_actor(actor), purpose=purpose
        )

    def open_record(
        self,
        record_id: str,
        version: int | None = None,
        byte_range: tuple[int, int] | None = None,
        *,
        purpose: str = "treatment",
        actor: Actor | str = SYSTEM,
    ) -> RecordReader:
        return self._records.open(record_id, version, byte_range, as_actor(actor), purpose)

    def list_records(self, subject_id: str, *, actor: Actor | str = SYSTEM) -> list[RecordInfo]:
        return self._records.list(subject_id, as_actor(actor))

    def records_page(
        self,
        subject_id: str,
        *,
        limit: int = DEFAULT_LIMIT,
        cursor: str | None = None,
        actor: Actor | str = SYSTEM,
    ) -> Page[RecordInfo]:
        """One page of ``list_records``; pass ``page.next`` as ``cursor`` for the next one."""
        return self._records.page(subject_id, as_actor(actor), limit, cursor)

    def record_info(self, record_id: str, *, actor: Actor | str = SYSTEM) -> RecordInfo:
        return self._records.info(record_id, as_actor(actor))

    # -- legal holds (admin) ------------------------------------------------------

    def place_hold(
        self, scope: str, target_id: str, case_ref: str, reason: str, *, actor: Actor | str = SYSTEM
    ) -> Hold:
        return self._holds.place(scope, target_id, case_ref, reason, as_actor(actor))

    def release_hold(self, hold_id: str, reason: str, *, actor: Actor | str = SYSTEM) -> Hold:
        return self._holds.release(hold_id, reason, as_actor(actor))

    def list_holds(self, *, active_only: bool = False, actor: Actor | str = SYSTEM) -> list[Hold]:
        return self._holds.list(as_actor(actor), include_released=not active_only)

    def holds_page(
        self,
        *,
        active_only: bool = False,
        subject_id: str | None = None,
        case_ref: str | None = None,
        limit: int = DEFAULT_LIMIT,
        cursor: str | None = None,
        actor: Actor | str = SYSTEM,
    ) -> Page[Hold]:
        """One page of ``list_holds``; ``subject_id`` and ``case_ref`` (a part of it,
        any case) narrow it."""
        return self._holds.page(
            as_actor(actor), not active_only, limit, cursor, subject_id, case_ref
        )

    # -- subject rights (DPO) ---------------------------------------------------------

    def request_erasure(self, subject_id: str, *, actor: Actor | str = SYSTEM) -> ErasureDecision:
        return self._erasure.request_erasure(subject_id, as_actor(actor))

    def erasure_status(self, subject_id: str, *, actor: Actor | str = SYSTEM) -> ErasureDecision:
        return self._erasure.erasure_status(subject_id, as_actor(actor))

    def restrict(self, subject_id: str, *, actor: Actor | str = SYSTEM) -> None:
        set_restriction(self._ctx, subject_id, True, as_actor(actor))

    def unrestrict(self, subject_id: str, *, actor: Actor | str = SYSTEM) -> None:
        set_restriction(self._ctx, subject_id, False, as_actor(actor))

    def export_subject(
        self, subject_id: str, out: IO[bytes], *, actor: Actor | str = SYSTEM
    ) -> dict[str, object]:
        """Write a zip of the subject's records and ``manifest.json``; return the manifest."""
        return self._export.export(subject_id, out, as_actor(actor))

    # -- edges (HTTP API): refusals decided at the edge, readiness -----------------

    def audit_refusal(
        self, actor: Actor, action: str, target: str = "", outcome: str = "refused:forbidden"
    ) -> None:
        """Record a refusal the edge decided (e.g. a role the permission matrix denies)."""
        self._ctx.audit.record(
            actor=actor, action=action, target=audit_target(target), outcome=outcome
        )

    def audit_session(self, actor: Actor, action: str, outcome: str = "ok") -> None:
        """Record an edge's session event (a console sign-in, sign-out or expiry)."""
        self._ctx.audit.record(actor=actor, action=action, outcome=outcome)

    def record_sign_in(self, actor: Actor | str, method: str) -> None:
        """Record that a person signed in at the edge (e.g. the console, through the provider)."""
        self._ctx.audit.record(actor=as_actor(actor), action=f"auth.sign_in.{method}", outcome="ok")

    def readiness_checks(self) -> dict[str, Callable[[], object]]:
        """Component → a call that raises if it cannot serve (the edge may run them at once)."""
        checks: dict[str, Callable[[], object]] = {"database": self._ping_database}
        for name, region in sorted(self._ctx.regions.items()):
            checks[f"keys:{name}"] = region.keys.health
            checks[f"store:{name}"] = region.store.health
        return checks

    def readiness(self) -> dict[str, str]:
        """Check the DB and each region's key provider and store: component → ``ok`` or a code.

        Codes are error slugs (``key-unavailable``...), never messages: safe to publish.
        """
        status: dict[str, str] = {}
        for component, check in self.readiness_checks().items():
            try:
                check()
                status[component] = "ok"
            except VaultError as exc:
                status[component] = exc.code
            except Exception:
                status[component] = "error"
        return status

    def _ping_database(self) -> None:
        # imported here: Alembic, which reads the migration scripts, is for readiness only
        from vault.metadata.migrate import check_schema

        with self._ctx.engine.connect() as conn:
            check_schema(conn)
