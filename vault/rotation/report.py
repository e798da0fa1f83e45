"""What a key rotation run did: the report (JSON-ready) and the counts its threads share."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field


@dataclass(frozen=True)
class RotationFailure:
    subject_id: str
    region: str
    code: str
    message: str


@dataclass(frozen=True)
class RotationSkip:
    """A key this run left alone, and why (e.g. ``transfer-in-progress``: ADR 0014)."""

    subject_id: str
    region: str
    reason: str


@dataclass(frozen=True)
class RegionRotation:
    keys_rotated: int = 0
    deks_rewrapped: int = 0


@dataclass(frozen=True)
class RotationReport:
    """What one ``rotate_keys`` (or scheduled) run did."""

    keys_rotated: int = 0
    deks_rewrapped: int = 0
    regions: dict[str, RegionRotation] = field(default_factory=dict)
    #: jobs taken over after an earlier attempt stopped (crash, outage)
    jobs_resumed: int = 0
    failures: tuple[RotationFailure, ...] = ()
    #: jobs deferred, kept open for a later run (their subject is being transferred)
    skipped: tuple[RotationSkip, ...] = ()


@dataclass
class Tally:
    """Counts shared by the threads of one run."""

    keys: dict[str, int] = field(default_factory=dict)
    deks: dict[str, int] = field(default_factory=dict)
    resumed: int = 0
    failures: list[RotationFailure] = field(default_factory=list)
    skips: list[RotationSkip] = field(default_factory=list)
    tried: set[str] = field(default_factory=set)
    stopped: list[BaseException] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def claimed(self, job_id: str, resumed: bool) -> bool:
        """Note a claimed job; False if this run tried it already or is stopping."""
        with self.lock:
            if job_id in self.tried or self.stopped:
                return False
            self.tried.add(job_id)
            self.resumed += int(resumed)
            return True

    def rewrapped(self, region: str, count: int) -> None:
        with self.lock:
            self.deks[region] = self.deks.get(region, 0) + count

    def rotated(self, region: str) -> None:
        with self.lock:
            self.keys[region] = self.keys.get(region, 0) + 1

    def failed(self, failure: RotationFailure) -> None:
        with self.lock:
            self.failures.append(failure)

    def skipped(self, skip: RotationSkip) -> None:
        with self.lock:
            self.skips.append(skip)

    def report(self) -> RotationReport:
        with self.lock:
            names = sorted(set(self.keys) | set(self.deks))
            return RotationReport(
                keys_rotated=sum(self.keys.values()),
                deks_rewrapped=sum(self.deks.values()),
                regions={
                    n: RegionRotation(self.keys.get(n, 0), self.deks.get(n, 0)) for n in names
                },
                jobs_resumed=self.resumed,
                failures=tuple(self.failures),
                skipped=tuple(self.skips),
            )
