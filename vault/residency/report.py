"""The residency report: proof that every object and subject key lives in its region only.

Per region it compares the store's reported location with the configured one,
then merges the store's sorted listing with the metadata DB's object keys in
the same order, and each key provider's sorted key names with the DB's key
names. Both sides stream (a page at a time), so memory does not grow with the
number of objects; violations are listed in detail up to a cap per kind and
counted in full. Shredded remnants (objects a store keeps under Object Lock
after their key was destroyed) are accounted in their region and listed in
their own section, with the date each may be deleted. See ``docs/residency.md``.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from vault.audit.checkpoints import is_checkpoint_key
from vault.context import VaultContext
from vault.crypto.documents import sign_document
from vault.domain import Actor, Remnant, to_json
from vault.erasure.remnants import count_shredded, shredded_remnants
from vault.errors import VaultError
from vault.metadata import session_scope
from vault.regions import Region
from vault.residency.streams import (
    Expected,
    Presence,
    expected_keys,
    expected_objects,
    merge_sorted,
)

#: violations listed in detail per kind; the counts are always complete
DETAIL_LIMIT = 1000
REPORT_TYPE = "recvault.residency-report"


class ViolationKind(enum.StrEnum):
    LOCATION_MISMATCH = "location_mismatch"
    MISSING_OBJECT = "missing_object"
    STRAY_OBJECT = "stray_object"
    MISSING_KEY = "missing_key"
    STRAY_KEY = "stray_key"
    #: a store or key provider could not be listed to the end: nothing proven there
    CHECK_INCOMPLETE = "check_incomplete"


@dataclass(frozen=True)
class Violation:
    kind: ViolationKind
    #: the region whose store or key provider was checked
    region: str
    #: a pseudonymous object key or subject-key name
    target: str
    detail: str
    #: the region the metadata DB assigns the target to, when it is another one
    belongs_to: str = ""


@dataclass(frozen=True)
class RegionResidency:
    name: str
    expected_location: str
    reported_location: str | None
    #: objects listed in the store, and how many of them belong here
    objects_listed: int
    objects_accounted: int
    #: of those accounted: copies of a transfer in progress, and uncommitted writes
    objects_in_transfer: int
    objects_pending: int
    keys_listed: int
    keys_accounted: int
    #: signed audit checkpoints in the store (``audit/checkpoints/<seq>.json``): they
    #: belong to every region by design and are neither records nor strays
    audit_checkpoints: int = 0
    #: of those accounted: shredded remnants the store keeps under Object Lock
    objects_remnant: int = 0

    json_properties: ClassVar[tuple[str, ...]] = ("location_ok",)

    @property
    def location_ok(self) -> bool:
        return self.reported_location == self.expected_location


@dataclass(frozen=True)
class ResidencyReport:
    generated_at: datetime
    regions: tuple[RegionResidency, ...]
    #: the first ``detail_limit`` violations of each kind
    violations: tuple[Violation, ...]
    #: every violation counted, by kind
    counts: dict[str, int]
    detail_limit: int
    #: objects kept under Object Lock after their key was destroyed: not violations
    #: (unreadable, deleted by the sweep from ``deletable_from``); the first
    #: ``detail_limit``, the soonest deletable first, and all of them counted
    remnants: tuple[Remnant, ...] = ()
    remnants_total: int = 0
    _signer: Callable[[dict[str, Any]], dict[str, Any]] | None = field(
        default=None, repr=False, compare=False
    )

    json_properties: ClassVar[tuple[str, ...]] = (
        "type",
        "version",
        "ok",
        "truncated",
        "remnants_truncated",
    )

    @property
    def type(self) -> str:
        return REPORT_TYPE

    @property
    def version(self) -> int:
        return 1

    @property
    def ok(self) -> bool:
        return not any(self.counts.values())

    @property
    def truncated(self) -> bool:
        """Some kind has more violations than the report details."""
        return any(n > self.detail_limit for n in self.counts.values())

    @property
    def remnants_truncated(self) -> bool:
        return self.remnants_total > len(self.remnants)

    def signed(self) -> dict[str, Any]:
        """The report as a signed envelope (``verify_document`` checks it)."""
        if self._signer is None:
            raise VaultError("this report was built without a signing key")
        return self._signer(to_json(self))

    def summary(self) -> str:
        verdict = "OK" if self.ok else "VIOLATIONS FOUND"
        lines = [f"recvault residency report, {self.generated_at.isoformat()}: {verdict}"]
        for r in self.regions:
            where = "ok" if r.location_ok else "MISMATCH"
            lines.append(
                f"  {r.name}: location {r.reported_location or '?'}"
                f" (expected {r.expected_location}, {where});"
                f" objects {r.objects_accounted}/{r.objects_listed} accounted"
                f" ({r.objects_in_transfer} in transfer, {r.objects_pending} pending);"
                f" keys {r.keys_accounted}/{r.keys_listed} accounted;"
                f" {r.audit_checkpoints} audit checkpoints;"
                f" {r.objects_remnant} shredded remnants"
            )
        for kind in ViolationKind:
            count = self.counts.get(kind.value, 0)
            if count:
                lines.append(f"  {kind.value}: {count}")
                shown = [v for v in self.violations if v.kind is kind]
                for v in shown[:10]:
                    also = f" (belongs to {v.belongs_to})" if v.belongs_to else ""
                    lines.append(f"    [{v.region}] {v.target}: {v.detail}{also}")
                if count > len(shown[:10]):
                    lines.append(f"    … {count - len(shown[:10])} more")
        if self.remnants_total:
            lines.append(
                f"  shredded remnants (key destroyed, kept under Object Lock):"
                f" {self.remnants_total}"
            )
            for m in self.remnants[:10]:
                when = m.retain_until.isoformat() if m.retain_until else "when its hold lifts"
                lines.append(f"    [{m.region}] {m.object_key}: {m.reason}, deletable {when}")
            if self.remnants_total > len(self.remnants[:10]):
                lines.append(f"    … {self.remnants_total - len(self.remnants[:10])} more")
        return "\n".join(lines)


class _Findings:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.counts = {kind.value: 0 for kind in ViolationKind}
        self.details: list[Violation] = []

    def add(self, violation: Violation) -> None:
        self.counts[violation.kind.value] += 1
        if self.counts[violation.kind.value] <= self.limit:
            self.details.append(violation)


class ResidencyCheck:
    """Build a ``ResidencyReport`` over every configured region the caller is granted."""

    def __init__(self, ctx: VaultContext, *, detail_limit: int = DETAIL_LIMIT) -> None:
        self.ctx = ctx
        self.detail_limit = detail_limit

    def run(self, actor: Actor) -> ResidencyReport:
        now = self.ctx.clock()
        findings = _Findings(self.detail_limit)
        regions = []
        for name in self.ctx.granted(actor):  # a one-region principal proves its region only
            region = self.ctx.regions[name]
            reported = self._location(region, findings)
            checkpoints = _CheckpointCount()
            objects = self._objects(region, findings, checkpoints)
            keys = self._keys(region, findings)
            regions.append(
                RegionResidency(
                    name=name,
                    expected_location=region.location,
                    reported_location=reported,
                    objects_listed=objects[0],
                    objects_accounted=objects[1],
                    objects_in_transfer=objects[2],
                    objects_pending=objects[3],
                    keys_listed=keys[0],
                    keys_accounted=keys[1],
                    audit_checkpoints=checkpoints.seen,
                    objects_remnant=objects[4],
                )
            )
        granted = [r.name for r in regions]
        with session_scope(self.ctx.engine) as session:
            remnants = shredded_remnants(session, granted, limit=self.detail_limit)
            remnants_total = count_shredded(session, granted)
        report = ResidencyReport(
            generated_at=now,
            regions=tuple(regions),
            violations=tuple(findings.details),
            counts=findings.counts,
            detail_limit=self.detail_limit,
            remnants=tuple(remnants),
            remnants_total=remnants_total,
            _signer=self._sign,
        )
        outcome = "ok" if report.ok else f"violations:{sum(report.counts.values())}"
        self.ctx.audit.record(actor=actor, action="residency.report", outcome=outcome)
        return report

    def _sign(self, document: dict[str, Any]) -> dict[str, Any]:
        return sign_document(self.ctx.signing_key, document)

    @staticmethod
    def _location(region: Region, findings: _Findings) -> str | None:
        try:
            reported = region.store.location()
        except VaultError as exc:
            findings.add(
                Violation(
                    ViolationKind.CHECK_INCOMPLETE,
                    region.name,
                    "store",
                    f"the store did not report its location ({exc.code})",
                )
            )
            return None
        if reported != region.location:
            findings.add(
                Violation(
                    ViolationKind.LOCATION_MISMATCH,
                    region.name,
                    "store",
                    f"the store reports {reported}, expected {region.location}",
                )
            )
        return reported

    def _objects(
        self, region: Region, findings: _Findings, checkpoints: _CheckpointCount
    ) -> tuple[int, int, int, int, int]:
        """Return (listed, accounted, in transfer, pending, remnants) for this region's store.

        Audit checkpoints are counted apart, by their exact name only: anything
        else under ``audit/`` is compared with the DB like any object (a stray).
        """
        listed = accounted = in_transfer = pending = remnants = 0
        here = region.name
        listing = checkpoints.skip(o.key for o in region.store.list("", page_size=1000))
        try:
            for key, present, expected in merge_sorted(listing, expected_objects(self.ctx.engine)):
                listed += present
                verdict = judge(here, present, expected, "object")
                if verdict is None:
                    if present:
                        accounted += 1
                        assert expected is not None
                        in_transfer += expected.transit
                        remnants += expected.remnant
                        pending += expected.presence is Presence.MAYBE and not (
                            expected.transit or expected.remnant
                        )
                    continue
                missing, detail, belongs = verdict
                kind = ViolationKind.MISSING_OBJECT if missing else ViolationKind.STRAY_OBJECT
                findings.add(Violation(kind, here, key, detail, belongs))
        except VaultError as exc:
            findings.add(_incomplete(here, "store", exc))
        return listed, accounted, in_transfer, pending, remnants

    def _keys(self, region: Region, findings: _Findings) -> tuple[int, int]:
        """Return (listed, accounted) for this region's key provider."""
        listed = accounted = 0
        here = region.name
        try:
            # Providers list names only; sorting them here keeps the merge exact
            # whatever order a provider (or a sharded one) returns.
            names = sorted(region.keys.list_keys())
            for key, present, expected in merge_sorted(iter(names), expected_keys(self.ctx.engine)):
                listed += present
                verdict = judge(here, present, expected, "subject key")
                if verdict is None:
                    accounted += present
                    continue
                missing, detail, belongs = verdict
                kind = ViolationKind.MISSING_KEY if missing else ViolationKind.STRAY_KEY
                findings.add(Violation(kind, here, key, detail, belongs))
        except VaultError as exc:
            findings.add(_incomplete(here, "key provider", exc))
        return listed, accounted


class _CheckpointCount:
    def __init__(self) -> None:
        self.seen = 0

    def skip(self, keys: Iterator[str]) -> Iterator[str]:
        for key in keys:
            if is_checkpoint_key(key):
                self.seen += 1
            else:
                yield key


def judge(
    here: str, present: bool, expected: Expected | None, what: str
) -> tuple[bool, str, str] | None:
    """None when all is well; else (missing?, detail, region it belongs to)."""
    if expected is None:
        return (False, f"{what} unknown to the metadata DB", "") if present else None
    if not present:
        if expected.presence is Presence.LIVE and expected.region == here:
            return True, f"{what} of {expected.what} is absent", ""
        return None
    if expected.presence is Presence.GONE:
        return False, f"{what} of {expected.what} still present", ""
    if expected.region != here:
        return False, f"{what} of {expected.what} outside its region", expected.region
    return None


def _incomplete(region: str, what: str, exc: VaultError) -> Violation:
    return Violation(
        ViolationKind.CHECK_INCOMPLETE,
        region,
        what,
        f"the {what} could not be compared to the end ({exc.code}: {exc.message})",
    )
