"""RecordVault's oversight calls: retention and disposal, destructions, residency, keys, audit, gc.

The security and compliance half of the facade (``vault.service.RecordVault``
extends it with subjects, records, holds and subject rights). Each call
delegates to the concept package that owns it, as the rest of the facade does.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from typing import Any

from vault.audit.checkpoints import Checkpoints
from vault.audit.partitions import AuditPartitions
from vault.audit.query import AuditQueries, AuditQuery
from vault.context import VaultContext
from vault.domain import (
    SYSTEM,
    Actor,
    AuditCheckpoint,
    AuditEvent,
    AuditPartition,
    AuditVerification,
    Destruction,
    DestructionState,
    DisposalPlan,
    GcResult,
    LegalBasis,
    SweepResult,
    TransferResult,
    as_actor,
)
from vault.durations import Duration, require_aware
from vault.errors import InvalidInput
from vault.paging import DEFAULT_LIMIT, MAX_LIMIT, Page
from vault.records.gc import GarbageCollector
from vault.residency.report import ResidencyCheck, ResidencyReport
from vault.residency.sections import ResidencyEntry, ResidencySections, Section
from vault.residency.transfer import Transfers
from vault.retention.disposal import Disposal
from vault.retention.horizon import retention_horizon
from vault.rotation.inventory import KeyStatus, key_status, rotate_due_keys
from vault.rotation.report import RotationReport
from vault.rotation.rotate import KeyRotation

#: ids one approval call may name (the API's body says the same)
MAX_APPROVALS = MAX_LIMIT


class VaultOversight:
    """What security and compliance call: disposal, destructions, residency, keys, audit, gc."""

    def __init__(self, ctx: VaultContext) -> None:
        self._ctx = ctx
        self._gc = GarbageCollector(ctx)
        self._disposal = Disposal(ctx)
        self._rotation = KeyRotation(ctx)
        self._residency = ResidencyCheck(ctx)
        self._sections = ResidencySections(ctx)
        self._audit = AuditQueries(ctx)
        self._transfers = Transfers(ctx)

    # -- retention and disposal (compliance) -------------------------------------

    def plan_disposal(
        self, as_of: datetime | None = None, *, actor: Actor | str = SYSTEM
    ) -> DisposalPlan:
        """What may go, and what is kept and why, in the caller's regions."""
        if as_of is not None:
            require_aware(as_of)
        return self._disposal.plan(as_actor(actor), as_of)

    def retention_horizon(self, *, actor: Actor | str = SYSTEM) -> dict[str, dict[int, int]]:
        """Region → year → live records reaching retain-until that year (counts only)."""
        return retention_horizon(self._ctx, as_actor(actor))

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
        return self._disposal.plan_page(as_actor(actor), as_of, limit, cursor)

    def approve_disposal(
        self, plan: DisposalPlan, ids: list[str] | None = None, *, actor: Actor | str = SYSTEM
    ) -> int:
        """Approve disposable items of ``plan`` (all, or those ``ids`` name)."""
        return self._disposal.approve(plan, as_actor(actor), ids)

    def approve_disposal_items(
        self, ids: list[str] | None, *, actor: Actor | str = SYSTEM
    ) -> tuple[int, DisposalPlan]:
        """Approve what ``ids`` name in the current plan (every disposable item when None).

        Named items are judged with their subjects alone, not the whole plan; at
        most ``MAX_APPROVALS`` a call. Returns the count approved and the plan judged.
        """
        if ids is not None and len(ids) > MAX_APPROVALS:
            raise InvalidInput(f"approve at most {MAX_APPROVALS} items a call")
        caller = as_actor(actor)
        disposal = self._disposal
        plan = disposal.plan(caller) if ids is None else disposal.plan_for(caller, ids)
        return disposal.approve(plan, caller, ids), plan

    def sweep(self, *, actor: Actor | str = SYSTEM) -> SweepResult:
        """Dispose of what may go, then rotate keys past ``rotation.max_age``."""
        caller = as_actor(actor)
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
        return self._disposal.destruction(destruction_id, as_actor(actor))

    def list_destructions(
        self, state: DestructionState | None = None, *, actor: Actor | str = SYSTEM
    ) -> list[Destruction]:
        return self._disposal.destructions(as_actor(actor), state)

    def destructions_page(
        self,
        state: DestructionState | None = None,
        *,
        limit: int = DEFAULT_LIMIT,
        cursor: str | None = None,
        actor: Actor | str = SYSTEM,
    ) -> Page[Destruction]:
        """One page of ``list_destructions``."""
        return self._disposal.destructions_page(as_actor(actor), state, limit, cursor)

    def cancel_destruction(
        self, destruction_id: str, *, actor: Actor | str = SYSTEM
    ) -> Destruction:
        return self._disposal.cancel(destruction_id, as_actor(actor))

    def destruction_certificate(
        self, destruction_id: str, *, actor: Actor | str = SYSTEM
    ) -> dict[str, Any]:
        return self._disposal.certificate(destruction_id, as_actor(actor))

    # -- residency (compliance; transfers by admin + compliance) -------------------

    def residency_report(self, *, actor: Actor | str = SYSTEM) -> ResidencyReport:
        """Where every object and subject key is, against where it must be (DESIGN 8)."""
        return self._residency.run(as_actor(actor))

    def residency_objects(
        self,
        region: str,
        *,
        limit: int = DEFAULT_LIMIT,
        cursor: str | None = None,
        actor: Actor | str = SYSTEM,
    ) -> Page[ResidencyEntry]:
        """A page of the report's object section for ``region``: each object, its verdict."""
        return self._sections.page(as_actor(actor), region, Section.OBJECTS, limit, cursor)

    def residency_keys(
        self,
        region: str,
        *,
        limit: int = DEFAULT_LIMIT,
        cursor: str | None = None,
        actor: Actor | str = SYSTEM,
    ) -> Page[ResidencyEntry]:
        """A page of the report's subject-key section for ``region``."""
        return self._sections.page(as_actor(actor), region, Section.KEYS, limit, cursor)

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
            subject_id, to_region, legal_basis, evidence_ref, as_actor(actor), override_hold
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
        return self._rotation.rotate(region, subject_id, as_actor(actor))

    def key_status(self, *, actor: Actor | str = SYSTEM) -> KeyStatus:
        """The key inventory of the caller's regions, from the metadata DB."""
        return key_status(self._ctx, as_actor(actor))

    # -- audit and housekeeping -------------------------------------------------

    def verify_audit(self, *, actor: Actor | str = SYSTEM) -> AuditVerification:
        """The chain link by link, and against the newest signed checkpoint; audited."""
        return Checkpoints(self._ctx).verify(as_actor(actor))

    def audit_checkpoint(
        self, *, actor: Actor | str = SYSTEM, only_if_new: bool = False
    ) -> AuditCheckpoint | None:
        """Verify the chain, then sign a checkpoint into every region's store (None: idle)."""
        return Checkpoints(self._ctx).write(as_actor(actor), only_if_new=only_if_new)

    def audit_partitions(self, *, actor: Actor | str = SYSTEM) -> list[AuditPartition]:
        """PostgreSQL: the audit table's monthly partitions, attached and detached; audited."""
        return AuditPartitions(self._ctx).list_all(as_actor(actor))

    def detach_audit_partition(self, month: str, *, actor: Actor | str = SYSTEM) -> AuditPartition:
        """Detach the oldest past month (``YYYY-MM``) from the audit table; its table stays."""
        return AuditPartitions(self._ctx).detach(month, as_actor(actor))

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
        return self._audit.events(as_actor(actor), query)

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
        return self._audit.page(as_actor(actor), query, limit, cursor)

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
            actor=as_actor(actor),
            action="gc.report" if dry_run else "gc",
            outcome=f"versions:{result.pending_versions_removed},"
            f"temp:{result.temp_files_removed},"
            f"kept:{result.unknown_objects_kept},"
            f"unreadable:{result.unreadable_objects_kept}",
        )
        return result
