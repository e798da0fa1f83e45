"""Residency benchmark: P8, a residency report over 100,000 objects in at most 60 s, flat memory.

Run from the repository root: ``python -m bench.residency`` (``--help`` for sizes).

Each size is seeded in one child process and reported on in another: two
regions (JP, PH) on LocalStores and local key providers, SQLite metadata DB.
Seeding skips sealing (the report checks presence, not content): tiny files
are written straight into each store's directory layout and the matching
subject, record and version rows are inserted in bulk, plus a few hundred
subject keys. Then a fresh process runs one report while a thread samples its
RSS every 10 ms; the figure is the peak RSS during the report minus the RSS
just before it. Memory is flat when that growth does not follow the number
of objects.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

P8_SECONDS = 60.0
#: growth of the report's peak RSS from the smallest to the largest size that still counts as flat
FLAT_MIB = 16.0
MiB = 1024 * 1024
REGIONS = {"JP": "ap-northeast-1", "PH": "ap-southeast-1"}


@dataclass(frozen=True)
class Run:
    objects: int
    subjects: int
    seed_s: float
    report_s: float
    rss_before_mib: float
    rss_growth_mib: float
    ok: bool


class RssSampler:
    """Peak resident set size of this process while the block runs (sampled)."""

    def __init__(self, interval: float = 0.01) -> None:
        import psutil

        self._process = psutil.Process()
        self._interval = interval
        self._stop = threading.Event()
        self.peak = 0
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def rss(self) -> int:
        return int(self._process.memory_info().rss)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.rss())
            self._stop.wait(self._interval)

    def __enter__(self) -> RssSampler:
        self.peak = self.rss()
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.rss())


def _settings(root: Path):  # type: ignore[no-untyped-def]
    """The bench deployment under ``root``; its secrets are kept in ``root/secrets.json``."""
    from vault import Settings

    secrets_file = root / "secrets.json"
    if not secrets_file.exists():
        names = ("name_secret", "signing_key", "master_key")
        secrets_file.write_text(json.dumps({n: secrets.token_hex(32) for n in names}))
    regions = {
        name: {
            "location": location,
            "store": {"kind": "local", "path": str(root / "objects" / name.lower())},
            "keys": {"kind": "local", "path": str(root / f"keys-{name}.db")},
        }
        for name, location in REGIONS.items()
    }
    return Settings.load(
        None,
        database={"url": f"sqlite:///{root / 'meta.db'}"},
        regions=regions,
        **json.loads(secrets_file.read_text()),
    )


def seed(vault, root: Path, objects: int, subjects: int) -> None:  # type: ignore[no-untyped-def]
    """Subjects with their keys, then ``objects`` versions: files plus rows, in bulk."""
    from sqlalchemy import insert

    from bench.seed import record_rows
    from keys.naming import subject_key_name
    from vault.metadata import RecordRow, RecordVersionRow, SubjectRow

    ctx = vault._ctx
    now = datetime.now(UTC)
    names = list(REGIONS)
    subject_rows = []
    for i in range(subjects):
        subject_id = uuid.uuid4().hex
        region = names[i % len(names)]
        key_name = subject_key_name(ctx.name_secret, subject_id)
        ctx.region(region).keys.ensure_key(key_name)
        subject_rows.append(
            {
                "id": subject_id,
                "ref_hmac": uuid.uuid4().hex,
                "region": region,
                "key_name": key_name,
                "state": "active",
                "restricted": False,
                "min_key_version": 0,
                "created_at": now,
            }
        )
    with ctx.engine.begin() as conn:
        conn.execute(insert(SubjectRow.__table__), subject_rows)  # type: ignore[attr-defined]
    batch = 10_000
    for start in range(0, objects, batch):
        records, versions = [], []
        for i in range(start, min(objects, start + batch)):
            subject = subject_rows[i % subjects]
            region = str(subject["region"])
            object_id = uuid.uuid4().hex
            key = f"{region}/{object_id[:2]}/{object_id}"
            path = root / "objects" / region.lower() / key
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"x")
            record, version = record_rows(
                uuid.uuid4().hex,
                str(subject["id"]),
                key,
                key_name=str(subject["key_name"]),
                key_version=1,
                wrapped_dek="seed",
                now=now,
                size=1,
                etag=object_id[:32],
            )
            records.append(record)
            versions.append(version)
        with ctx.engine.begin() as conn:
            conn.execute(insert(RecordRow.__table__), records)  # type: ignore[attr-defined]
            conn.execute(insert(RecordVersionRow.__table__), versions)  # type: ignore[attr-defined]


def seed_into(root: Path, objects: int, subjects: int) -> float:
    """Create and fill the deployment under ``root``; return the seconds it took."""
    from vault import RecordVault
    from vault.metadata.migrate import upgrade

    settings = _settings(root)
    upgrade(settings.database.url)
    vault = RecordVault.from_settings(settings)
    started = time.perf_counter()
    seed(vault, root, objects, subjects)
    vault.close()
    return time.perf_counter() - started


def report_on(root: Path, objects: int) -> tuple[float, float, float]:
    """In a process that did nothing else: (report seconds, RSS before, peak growth) in MiB."""
    from vault import RecordVault

    vault = RecordVault.from_settings(_settings(root))
    vault.regions["JP"].keys.health()  # connect and import everything before measuring
    sampler = RssSampler()
    before = sampler.rss()
    with sampler:
        started = time.perf_counter()
        report = vault.residency_report(actor="bench")
        report_s = time.perf_counter() - started
    listed = sum(r.objects_listed for r in report.regions)
    if listed != objects or not report.ok:
        raise SystemExit(f"report saw {listed} of {objects} objects:\n{report.summary()}")
    vault.close()
    return report_s, before / MiB, (sampler.peak - before) / MiB


def _child(*args: str) -> object:
    child = subprocess.run(
        [sys.executable, "-m", "bench.residency", *args],
        check=True,
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
        env={**os.environ},
    )
    return json.loads(child.stdout.strip().splitlines()[-1])


def one(objects: int, subjects: int) -> Run:
    """Seed in one child process, report in a fresh one (so seeding leaves no memory behind)."""
    with tempfile.TemporaryDirectory(prefix="recvault-p8-") as tmp:
        seed_s = _child("--seed", tmp, "--objects", str(objects), "--subjects", str(subjects))
        measured = _child("--report", tmp, "--objects", str(objects))
    assert isinstance(seed_s, float) and isinstance(measured, list)
    report_s, before, growth = measured
    return Run(objects, subjects, seed_s, report_s, before, growth, True)


def main(argv: list[str] | None = None) -> int:
    from vault.storage import tune_process

    tune_process()  # as `recvault serve` and `recvault worker` do at start-up
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000", help="object counts, comma-separated")
    parser.add_argument("--subjects", type=int, default=300)
    parser.add_argument("--seed", help=argparse.SUPPRESS)
    parser.add_argument("--report", help=argparse.SUPPRESS)
    parser.add_argument("--objects", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.seed:
        print(json.dumps(seed_into(Path(args.seed), args.objects, args.subjects)))
        return 0
    if args.report:
        print(json.dumps(report_on(Path(args.report), args.objects)))
        return 0
    runs = [one(int(size), args.subjects) for size in args.sizes.split(",")]
    print(f"P8 residency report, {args.subjects} subjects, LocalStore + local keys + SQLite")
    print("| objects | seed s | report s | objects/s | RSS before MiB | RSS growth MiB |")
    print("|---:|---:|---:|---:|---:|---:|")
    for run in runs:
        print(
            f"| {run.objects:,} | {run.seed_s:.1f} | {run.report_s:.1f} |"
            f" {run.objects / run.report_s:,.0f} | {run.rss_before_mib:.0f} |"
            f" {run.rss_growth_mib:.1f} |"
        )
    largest, smallest = runs[-1], runs[0]
    fast = largest.report_s <= P8_SECONDS
    flat = largest.rss_growth_mib - smallest.rss_growth_mib <= FLAT_MIB
    print(
        f"P8: {largest.objects:,} objects in {largest.report_s:.1f} s"
        f" (target <= {P8_SECONDS:.0f} s): {'pass' if fast else 'FAIL'};"
        f" RSS growth {smallest.rss_growth_mib:.1f} ->"
        f" {largest.rss_growth_mib:.1f} MiB (flat if within {FLAT_MIB:.0f} MiB):"
        f" {'pass' if flat else 'FAIL'}"
    )
    return 0 if fast and flat else 1


if __name__ == "__main__":
    sys.exit(main())
