"""RecordVault: the one public entry point of recvault (DESIGN section 9).

Edges (HTTP API, CLI, Python callers) call only this class. It owns the
metadata DB, each region's store and key provider, the clock and the audit
log, and delegates each capability to a small component.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import IO, Any

from sqlalchemy import text

from vault.audit.chain import AuditLog
from vault.audit.checkpoints import Checkpoints
from vault.audit.partitions import AuditPartitions
from vault.audit.query import AuditQueries, AuditQuery
from vault.context import VaultContext, audit_target
from vault.crypto import SigningKey
from vault.domain import (
    SYSTEM,
    Actor,
    AuditCheckpoint,
    AuditEvent,
    AuditPartition,
    AuditVerification,
    Category,
    Destruction,
    DestructionState,
    DisposalPlan,
    ErasureDecision,
    GcResult,
    Hold,
    LegalBasis,
    Subject,
    SweepResult,
    TransferResult,
)
from vault.domain import RecordInfo as RecordInfo
from vault.durations import Duration, require_aware
from vault.erasure.requests import ErasureRequests
from vault.erasure.restriction import set_restriction
from vault.errors import ConfigError, VaultError
from vault.format.content import Content
from vault.format.reader import RecordReader
from vault.metadata import make_engine
from vault.paging import DEFAULT_LIMIT, Page
from vault.principals import Principals
from vault.records.export import SubjectExport
from vault.records.gc import GarbageCollector
from vault.records.reads import Records
from vault.records.subjects import Subjects
from vault.records.writes import RecordInput, RecordWriter
from vault.regions import KeyCallObserver, Region, build_region
from vault.residency.report import ResidencyCheck, ResidencyReport
from vault.residency.sections import ResidencyEntry, ResidencySections, Section
from vault.residency.transfer import Transfers
from vault.retention.disposal import Disposal
from vault.retention.holds import Holds
from vault.retention.horizon import retention_horizon
from vault.rotation.inventory import KeyStatus, key_status, rotate_due_keys
from vault.rotation.report import RotationReport
from vault.rotation.rotate import KeyRotation
from vault.settings import Settings


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _actor(actor: Actor | str) -> Actor:
    return Actor(name=actor) if isinstance(actor, str) else actor


class RecordVault:
    """Encrypted, region-pinned, retention-aware storage of treatment records."""

    def __init__(self, ctx: VaultContext) -> None:
        self._ctx = ctx
        self._subjects = Subjects(ctx)
        self._records = Records(ctx)
        self._writer = RecordWriter(ctx)
        self._gc = GarbageCollector(ctx)
        self._holds = Holds(ctx)
        self._disposal = Disposal(ctx)
        self._erasure = ErasureRequests(ctx, self._disposal)
        self._export = SubjectExport(ctx, self._records)
        self._rotation = KeyRotation(ctx)
        self.principals = Principals(ctx)
        self._residency = ResidencyCheck(ctx)
        self._sections = ResidencySections(ctx)
        self._audit = AuditQueries(ctx)
        self._transfers = Transfers(ctx)

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        clock: Callable[[], datetime] | None = None,
        regions: dict[str, Region] | None = None,
        *,
        key_observer: KeyCallObserver | None = None,
    ) -> RecordVault:
        if not settings.regions and not regions:
            raise ConfigError("regions: configure at least one region (e.g. [regions.JP])")
        clock = clock or _utcnow
        engine = make_engine(settings.database.url, **settings.database.engine_options())
        signing_seed = settings.secret_bytes("signing_key")
        built = regions or {
            name: build_region(name, config, settings, key_observer)
            for name, config in settings.regions.items()
        }
        ctx = VaultContext(
            settings=settings,
            engine=engine,
            regions=built,
            clock=clock,
            audit=AuditLog(engine, signing_seed, clock),
            name_secret=settings.secret_bytes("name_secret"),
            signing_key=SigningKey(signing_seed[:32]),
        )
        return cls(ctx)

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
        return self._subjects.create(external_ref, region, _actor(actor))[0]

    def create_subject_ex(
        self, external_ref: str, region: str, *, actor: Actor | str = SYSTEM
    ) -> tuple[Subject, bool]:
        """Like ``create_subject``, also telling whether the subject is new."""
        return self._subjects.create(external_ref, region, _actor(actor))

    def get_subject(self, subject_id: str, *, actor: Actor | str = SYSTEM) -> Subject:
        return self._subjects.get(subject_id, _actor(actor))

    def find_subjects(self, external_ref: str, *, actor: Actor | str = SYSTEM) -> list[Subject]:
        """The live subjects of a clinic reference in the caller's regions (never creates)."""
        return self._subjects.find(external_ref, _actor(actor))

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
        return self._writer.put([item], _actor(actor), purpose)[0]

    def put_records(
        self,
        items: Sequence[RecordInput],
        *,
        actor: Actor | str = SYSTEM,
        purpose: str = "treatment",
    ) -> list[RecordInfo]:
        return self._writer.put(items, _actor(actor), purpose)

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
            record_id, content, content_type, size, actor=_actor(actor), purpose=purpose
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
        return self._records.open(record_id, version, byte_range, _actor(actor), purpose)

    def list_records(self, subject_id: str, *, actor: Actor | str = SYSTEM) -> list[RecordInfo]:
        return self._records.list(subject_id, _actor(actor))

    def records_page(
        self,
        subject_id: str,
        *,
        limit: int = DEFAULT_LIMIT,
        cursor: str | None = None,
        actor: Actor | str = SYSTEM,
    ) -> Page[RecordInfo]:
        """One page of ``list_records``; pass ``page.next`` as ``cursor`` for the next one."""
        return self._records.page(subject_id, _actor(actor), limit, cursor)

    def record_info(self, record_id: str, *, actor: Actor | str = SYSTEM) -> RecordInfo:
        return self._records.info(record_id, _actor(actor))

    # -- legal holds (admin) ------------------------------------------------------

    def place_hold(
        self, scope: str, target_id: str, case_ref: str, reason: str, *, actor: Actor | str = SYSTEM
    ) -> Hold:
        return self._holds.place(scope, target_id, case_ref, reason, _actor(actor))

    def release_hold(self, hold_id: str, reason: str, *, actor: Actor | str = SYSTEM) -> Hold:
        return self._holds.release(hold_id, reason, _actor(actor))

    def list_holds(self, *, active_only: bool = False, actor: Actor | str = SYSTEM) -> list[Hold]:
        return self._holds.list(_actor(actor), include_released=not active_only)

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
        return self._holds.page(_actor(actor), not active_only, limit, cursor, subject_id, case_ref)

    # -- subject rights (DPO) ---------------------------------------------------------

    def request_erasure(self, subject_id: str, *, actor: Actor | str = SYSTEM) -> ErasureDecision:
        return self._erasure.request_erasure(subject_id, _actor(actor))

    def erasure_status(self, subject_id: str, *, actor: Actor | str = SYSTEM) -> ErasureDecision:
        return self._erasure.erasure_status(subject_id, _actor(actor))

    def restrict(self, subject_id: str, *, actor: Actor | str = SYSTEM) -> None:
        set_restriction(self._ctx, subject_id, True, _actor(actor))

    def unrestrict(self, subject_id: str, *, actor: Actor | str = SYSTEM) -> None:
        set_restriction(self._ctx, subject_id, False, _actor(actor))

    def export_subject(
        self, subject_id: str, out: IO[bytes], *, actor: Actor | str = SYSTEM
    ) -> dict[str, object]:
        """Write a zip of the subject's records and ``manifest.json``; return the manifest."""
        return self._export.export(subject_id, out, _actor(actor))

    # -- retention and disposal (compliance) -------------------------------------

    def plan_disposal(
        self, as_of: datetime | None = None, *, actor: Actor | str = SYSTEM
    ) -> DisposalPlan:
        """What may go, and what is kept and why, in the caller's regions."""
        if as_of is not None:
            require_aware(as_of)
        return self._disposal.plan(_actor(actor), as_of)

    def retention_horizon(self, *, actor: Actor | str = SYSTEM) -> dict[str, dict[int, int]]:
        """Region → year → live records reaching retain-until that year (counts only)."""
        return retention_horizon(self._ctx, _actor(actor))

    def plan_disposal_page(
        self,
        as_of: datetime | None = None,
        *,
        limit: int = DEFAULT_LIMIT,
        cursor: str | None = None,
        actor: Actor | str = SYSTEM,
    ) -> DisposalPlan:
        """One page of the plan (``next`` set when more follow), all pages as of one time."""
        if as_of is not None:
            require_aware(as_of)
        return self._disposal.plan_page(_actor(actor), as_of, limit, cursor)

    def approve_disposal(
        self, plan: DisposalPlan, ids: list[str] | None = None, *, actor: Actor | str = SYSTEM
    ) -> int:
        return self._disposal.approve(plan, _actor(actor), ids)

    def sweep(self, *, actor: Actor | str = SYSTEM) -> SweepResult:
        """Dispose of what may go, then rotate keys past ``rotation.max_age``."""
        caller = _actor(actor)
        result = self._disposal.sweep(caller)
        rotated = rotate_due_keys(self._ctx, self._rotation, caller)
        result = replace(result, keys_rotated=rotated.keys_rotated)
        self._ctx.audit.record(
            actor=caller,
            action="retention.sweep",
            outcome=f"erased:{result.records_erased},destroyed:{result.destructions_executed}",
        )
        return result

    def get_destruction(self, destruction_id: str, *, actor: Actor | str = SYSTEM) -> Destruction:
        """One scheduled, cancelled or executed key destruction, by id."""
        return self._disposal.destruction(destruction_id, _actor(actor))

    def list_destructions(
        self, state: DestructionState | None = None, *, actor: Actor | str = SYSTEM
    ) -> list[Destruction]:
        return self._disposal.destructions(_actor(actor), state)

    def destructions_page(
        self,
        state: DestructionState | None = None,
        *,
        limit: int = DEFAULT_LIMIT,
        cursor: str | None = None,
        actor: Actor | str = SYSTEM,
    ) -> Page[Destruction]:
        """One page of ``list_destructions``."""
        return self._disposal.destructions_page(_actor(actor), state, limit, cursor)

    def cancel_destruction(
        self, destruction_id: str, *, actor: Actor | str = SYSTEM
    ) -> Destruction:
        return self._disposal.cancel(destruction_id, _actor(actor))

    def destruction_certificate(
        self, destruction_id: str, *, actor: Actor | str = SYSTEM
    ) -> dict[str, Any]:
        return self._disposal.certificate(destruction_id, _actor(actor))

    # -- residency (compliance; transfers by admin + compliance) -------------------

    def residency_report(self, *, actor: Actor | str = SYSTEM) -> ResidencyReport:
        """Where every object and subject key is, against where it must be (DESIGN 8)."""
        return self._residency.run(_actor(actor))

    def residency_objects(
        self,
        region: str,
        *,
        limit: int = DEFAULT_LIMIT,
        cursor: str | None = None,
        actor: Actor | str = SYSTEM,
    ) -> Page[ResidencyEntry]:
        """A page of the report's object section for ``region``: each object, its verdict."""
        return self._sections.page(_actor(actor), region, Section.OBJECTS, limit, cursor)

    def residency_keys(
        self,
        region: str,
        *,
        limit: int = DEFAULT_LIMIT,
        cursor: str | None = None,
        actor: Actor | str = SYSTEM,
    ) -> Page[ResidencyEntry]:
        """A page of the report's subject-key section for ``region``."""
        return self._sections.page(_actor(actor), region, Section.KEYS, limit, cursor)

    def transfer_subject(
        self,
        subject_id: str,
        to_region: str,
        legal_basis: LegalBasis | str | None,
        evidence_ref: str | None,
        *,
        actor: Actor | str = SYSTEM,
        override_hold: bool = False,
    ) -> TransferResult:
        """Move a subject to another region (or resume its unfinished move)."""
        return self._transfers.transfer(
            subject_id, to_region, legal_basis, evidence_ref, _actor(actor), override_hold
        )

    # -- key rotation and inventory (security) ----------------------------------

    def rotate_keys(
        self,
        region: str | None = None,
        subject_id: str | None = None,
        *,
        actor: Actor | str = SYSTEM,
    ) -> RotationReport:
        """Rotate the live subject keys selected; resumes jobs an earlier run left open."""
        return self._rotation.rotate(region, subject_id, _actor(actor))

    def key_status(self, *, actor: Actor | str = SYSTEM) -> KeyStatus:
        """The key inventory of the caller's regions, from the metadata DB."""
        return key_status(self._ctx, _actor(actor))

    # -- audit and housekeeping -------------------------------------------------

    def verify_audit(self, *, actor: Actor | str = SYSTEM) -> AuditVerification:
        """The chain link by link, and against the newest signed checkpoint; audited."""
        return Checkpoints(self._ctx).verify(_actor(actor))

    def audit_checkpoint(
        self, *, actor: Actor | str = SYSTEM, only_if_new: bool = False
    ) -> AuditCheckpoint | None:
        """Verify the chain, then sign a checkpoint into every region's store (None: idle)."""
        return Checkpoints(self._ctx).write(_actor(actor), only_if_new=only_if_new)

    def audit_partitions(self, *, actor: Actor | str = SYSTEM) -> list[AuditPartition]:
        """PostgreSQL: the audit table's monthly partitions, attached and detached; audited."""
        return AuditPartitions(self._ctx).list_all(_actor(actor))

    def detach_audit_partition(self, month: str, *, actor: Actor | str = SYSTEM) -> AuditPartition:
        """Detach the oldest past month (``YYYY-MM``) from the audit table; its table stays."""
        return AuditPartitions(self._ctx).detach(month, _actor(actor))

    def audit_events(
        self,
        *,
        principal: str | None = None,
        subject_id: str | None = None,
        action: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        after_seq: int = 0,
        actor: Actor | str = SYSTEM,
    ) -> Iterator[AuditEvent]:
        """Events by ``principal`` (and the other filters) in the caller's regions; audited.

        A principal granted some regions sees only events about those regions.
        """
        query = AuditQuery(principal, subject_id, action, since, until, after_seq)
        return self._audit.events(_actor(actor), query)

    def audit_page(
        self,
        *,
        principal: str | None = None,
        subject_id: str | None = None,
        action: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        after_seq: int = 0,
        limit: int = DEFAULT_LIMIT,
        cursor: str | None = None,
        actor: Actor | str = SYSTEM,
    ) -> Page[AuditEvent]:
        """One page of ``audit_events`` in chain order (keyset: ``seq``)."""
        query = AuditQuery(principal, subject_id, action, since, until, after_seq)
        return self._audit.page(_actor(actor), query, limit, cursor)

    def gc(
        self,
        grace: Duration | None = None,
        *,
        dry_run: bool = False,
        actor: Actor | str = SYSTEM,
    ) -> GcResult:
        """Remove what crashed writes left; keep and report objects the DB does not know.

        Every region: a server-side task. ``dry_run`` removes nothing and reports
        what would be removed and kept (run it first after a restore).
        """
        result = self._gc.run(grace, dry_run=dry_run)
        self._ctx.audit.record(
            actor=_actor(actor),
            action="gc.report" if dry_run else "gc",
            outcome=f"versions:{result.pending_versions_removed},"
            f"temp:{result.temp_files_removed},"
            f"kept:{result.unknown_objects_kept},"
            f"unreadable:{result.unreadable_objects_kept}",
        )
        return result

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
        self._ctx.audit.record(actor=_actor(actor), action=f"auth.sign_in.{method}", outcome="ok")

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
        with self._ctx.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
